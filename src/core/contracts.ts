// The shapes the daemon's components exchange: status records and the service interfaces the API, tray and alerts use.
import type { Config } from "../config/schema.ts";

export type UpstreamState = "unknown" | "up" | "degraded" | "down";
export type Quality = "excellent" | "good" | "poor" | "critical" | "down";

export interface LatencySummary {
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

export interface UpstreamMetrics {
  requests: number; // in the window
  errors: number; // in the window
  errorRate: number; // 0..1
  latencyMs: LatencySummary; // whole request
  ttfbMs: LatencySummary; // time to first byte / token of streams
  requestsPerSec: number;
  bytesPerSec: number;
  tokensPerSec: number | null;
  healthLatencyMs: LatencySummary; // health checks, tracked apart from traffic
  totalRequests: number; // since start
  totalErrors: number; // since start
}

export interface UpstreamStatus {
  name: string;
  kind: "ollama" | "openai";
  url: string;
  enabled: boolean;
  priority: number;
  state: UpstreamState;
  quality: Quality;
  version: string | null;
  models: string[];
  lastCheck: string | null; // ISO time
  lastError: string | null;
  metrics: UpstreamMetrics;
}

export type TunnelState = "disabled" | "stopped" | "connecting" | "connected" | "reconnecting" | "auth_failed" | "failed";

export interface TunnelStatus {
  state: TunnelState;
  protocol: "v2" | "bridge-v1";
  relay: string | null; // URL without credentials
  since: string | null; // ISO time of the last state change
  nextRetry: string | null; // ISO time when reconnecting
  attempt: number;
  lastError: string | null;
  tunnelId: string | null;
  activeStreams: number;
}

export type AlertSeverity = "warning" | "critical";
export interface Alert {
  id: string; // stable per rule + subject, e.g. "upstream_down:local"
  rule: string;
  severity: AlertSeverity;
  subject: string;
  message: string;
  raisedAt: string;
  clearedAt?: string;
}

export interface ReloadResult {
  at: string;
  ok: boolean;
  error?: { message: string; file?: string; line?: number; column?: number; path?: string };
}

/** One request through the broker or the tunnel, for the inspector and metrics. */
export interface RequestRecord {
  id: string;
  time: string;
  source: "local" | "tunnel";
  method: string;
  path: string;
  model: string | null;
  upstream: string | null;
  status: number;
  ttfbMs: number | null;
  durationMs: number;
  tokensPerSec: number | null;
  bytesIn: number;
  bytesOut: number;
  error: string | null;
  requestBody?: string;
  responseBody?: string;
  /** Set when only the first `[dashboard] body_cap` bytes of the body were kept. */
  requestBodyTruncated?: boolean;
  responseBodyTruncated?: boolean;
}

/** What the broker offers to the API, the tunnel, alerts and the tray. */
export interface BrokerService {
  upstreams(): UpstreamStatus[];
  upstream(name: string): UpstreamStatus | undefined;
  check(name: string): Promise<UpstreamStatus>;
  reconnectAll(): Promise<void>;
  models(): { name: string; upstreams: string[] }[];
  overallQuality(): Quality;
  /** Serves one Ollama/OpenAI-compatible request with routing and failover (used by the proxy listener and the tunnel). */
  handle(req: Request, source: "local" | "tunnel"): Promise<Response>;
}

export interface TunnelControl {
  status(): TunnelStatus;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export interface AlertsService {
  active(): Alert[];
  /** Problems with delivering alerts (e.g. notify-send missing), for status warnings and doctor. */
  warnings?(): string[];
}

export interface ConfigService {
  current(): Config;
  path(): string;
  lastReload(): ReloadResult | null;
}

export type AuthState = "disabled" | "signed_out" | "signed_in" | "login_required";

/** The whole picture, as GET /api/v1/status returns it and /ws sends as its first "snapshot" message. */
export interface DaemonStatus {
  daemon: {
    version: string;
    commit: string;
    buildDate: string;
    pid: number;
    startedAt: string;
    uptimeSec: number;
    configPath: string;
    lastReload: ReloadResult | null;
  };
  upstreams: UpstreamStatus[];
  tunnel: TunnelStatus;
  quality: Quality;
  alerts: Alert[];
  auth: { state: AuthState; subject: string | null; expiresAt: string | null };
  warnings: string[];
}

/** Every secret (tokens, agent tokens, upstream API keys) goes through this store; config refers to secrets by name. */
export interface SecretStore {
  readonly backend: "secret-service" | "file" | "memory";
  /** Set when the store had to fall back (e.g. no Secret Service): shown in status and doctor. */
  readonly warning: string | null;
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<boolean>;
  list(): Promise<string[]>;
}

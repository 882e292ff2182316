// The API's shared `t` models (mirroring src/core/contracts.ts): they validate responses and make up the OpenAPI components.
import { t } from "elysia";

const LATENCY_EXAMPLE = { p50: 180, p90: 420, p95: 610, p99: 1200 };
const UPSTREAM_EXAMPLE = {
  name: "local",
  kind: "ollama",
  url: "http://127.0.0.1:11434",
  enabled: true,
  priority: 100,
  state: "up",
  quality: "good",
  version: "0.6.0",
  models: ["llama3.2:1b", "qwen2.5:0.5b"],
  lastCheck: "2026-11-21T15:00:00.000Z",
  lastError: null,
  metrics: {
    requests: 42,
    errors: 1,
    errorRate: 0.024,
    latencyMs: LATENCY_EXAMPLE,
    ttfbMs: { p50: 90, p90: 200, p95: 260, p99: 400 },
    requestsPerSec: 0.14,
    bytesPerSec: 2300,
    tokensPerSec: 41.5,
    healthLatencyMs: { p50: 2, p90: 3, p95: 4, p99: 6 },
    totalRequests: 1234,
    totalErrors: 7,
  },
};
const TUNNEL_EXAMPLE = {
  state: "connected",
  protocol: "v2",
  relay: "wss://relay.example.com/agent",
  since: "2026-11-21T14:00:00.000Z",
  nextRetry: null,
  attempt: 0,
  lastError: null,
  tunnelId: "alice",
  activeStreams: 1,
};
const ALERT_EXAMPLE = {
  id: "upstream_down:spare",
  rule: "upstream_down",
  severity: "critical",
  subject: "spare",
  message: "upstream spare has been down for 30s",
  raisedAt: "2026-11-21T14:59:30.000Z",
};

const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ description: "Stable machine-readable code, e.g. unauthorized, validation_failed.", examples: ["unauthorized"] }),
      message: t.String({ description: "One sentence saying what is wrong.", examples: ["a valid API token is required"] }),
      details: t.Optional(t.Unknown({ description: "Field issues for validation_failed: [{ path, message, line?, column? }]." })),
    }),
  },
  { description: "Every error the API returns has this shape." },
);

export const Latency = t.Object({
  p50: Nullable(t.Number()),
  p90: Nullable(t.Number()),
  p95: Nullable(t.Number()),
  p99: Nullable(t.Number()),
});

export const UpstreamMetrics = t.Object(
  {
    requests: t.Number({ description: "Requests in the metrics window." }),
    errors: t.Number(),
    errorRate: t.Number({ minimum: 0, maximum: 1 }),
    latencyMs: Latency,
    ttfbMs: Latency,
    requestsPerSec: t.Number(),
    bytesPerSec: t.Number(),
    tokensPerSec: Nullable(t.Number()),
    healthLatencyMs: Latency,
    totalRequests: t.Number({ description: "Since the daemon started." }),
    totalErrors: t.Number(),
  },
  { additionalProperties: true },
);

export const UpstreamState = t.UnionEnum(["unknown", "up", "degraded", "down"]);
export const Quality = t.UnionEnum(["excellent", "good", "poor", "critical", "down"]);

export const UpstreamStatus = t.Object(
  {
    name: t.String({ examples: ["local"] }),
    kind: t.UnionEnum(["ollama", "openai"]),
    url: t.String({ examples: ["http://127.0.0.1:11434"] }),
    enabled: t.Boolean(),
    priority: t.Number(),
    state: UpstreamState,
    quality: Quality,
    version: Nullable(t.String()),
    models: t.Array(t.String()),
    lastCheck: Nullable(t.String({ description: "ISO time of the last health check." })),
    lastError: Nullable(t.String()),
    metrics: UpstreamMetrics,
  },
  { additionalProperties: true, examples: [UPSTREAM_EXAMPLE] },
);

export const TunnelStatus = t.Object(
  {
    state: t.UnionEnum(["disabled", "stopped", "connecting", "connected", "reconnecting", "auth_failed", "failed"]),
    protocol: t.UnionEnum(["v2", "bridge-v1"]),
    relay: Nullable(t.String()),
    since: Nullable(t.String()),
    nextRetry: Nullable(t.String()),
    attempt: t.Number(),
    lastError: Nullable(t.String()),
    tunnelId: Nullable(t.String()),
    activeStreams: t.Number(),
  },
  { additionalProperties: true, examples: [TUNNEL_EXAMPLE] },
);

export const Alert = t.Object(
  {
    id: t.String({ examples: ["upstream_down:local"] }),
    rule: t.String(),
    severity: t.UnionEnum(["warning", "critical"]),
    subject: t.String(),
    message: t.String(),
    raisedAt: t.String(),
    clearedAt: t.Optional(t.String()),
  },
  { additionalProperties: true, examples: [ALERT_EXAMPLE] },
);

export const ReloadResult = t.Object({
  at: t.String(),
  ok: t.Boolean(),
  error: t.Optional(
    t.Object({
      message: t.String(),
      file: t.Optional(t.String()),
      line: t.Optional(t.Number()),
      column: t.Optional(t.Number()),
      path: t.Optional(t.String()),
    }),
  ),
});

export const DaemonStatus = t.Object(
  {
    daemon: t.Object({
      version: t.String({ examples: ["3.0.0"] }),
      commit: t.String(),
      buildDate: t.String(),
      pid: t.Number(),
      startedAt: t.String(),
      uptimeSec: t.Number(),
      configPath: t.String(),
      lastReload: Nullable(ReloadResult),
    }),
    upstreams: t.Array(UpstreamStatus),
    tunnel: TunnelStatus,
    quality: Quality,
    alerts: t.Array(Alert),
    auth: t.Object({
      state: t.UnionEnum(["disabled", "signed_out", "signed_in", "login_required"]),
      subject: Nullable(t.String()),
      expiresAt: Nullable(t.String()),
    }),
    warnings: t.Array(t.String()),
  },
  {
    description: "The whole picture; /ws sends the same object as its first message (type snapshot).",
    examples: [
      {
        daemon: {
          version: "3.0.0",
          commit: "7481c18abcde",
          buildDate: "2026-11-21T12:00:00Z",
          pid: 4242,
          startedAt: "2026-11-21T13:00:00.000Z",
          uptimeSec: 7200,
          configPath: "/home/ada/.config/cloudtolocalllm/tunnel.toml",
          lastReload: { at: "2026-11-21T14:30:00.000Z", ok: true },
        },
        upstreams: [UPSTREAM_EXAMPLE],
        tunnel: TUNNEL_EXAMPLE,
        quality: "good",
        alerts: [ALERT_EXAMPLE],
        auth: { state: "signed_in", subject: "ada@example.com", expiresAt: "2026-11-21T16:00:00.000Z" },
        warnings: [],
      },
    ],
  },
);

export const ConfigIssue = t.Object({
  path: t.String({ description: "Dotted field path, e.g. upstreams[0].url; empty for a syntax error.", examples: ["upstreams[0].url"] }),
  message: t.String(),
  line: t.Optional(t.Number()),
  column: t.Optional(t.Number()),
});

/** Shared error responses for the OpenAPI document. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));

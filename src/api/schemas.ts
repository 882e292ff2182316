// The API's shared `t` models (mirroring src/core/contracts.ts): they validate responses and make up the OpenAPI components.
import { t } from "elysia";

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
  { additionalProperties: true },
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
  { additionalProperties: true },
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
  { additionalProperties: true },
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
  { description: "The whole picture; /ws sends the same object as its first message (type snapshot)." },
);

export const ConfigIssue = t.Object({
  path: t.String({ description: "Dotted field path, e.g. upstreams[0].url; empty for a syntax error.", examples: ["upstreams[0].url"] }),
  message: t.String(),
  line: t.Optional(t.Number()),
  column: t.Optional(t.Number()),
});

/** Shared error responses for the OpenAPI document. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));

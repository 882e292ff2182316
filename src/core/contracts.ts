// The shapes the daemon's parts, the API, the tray and the dashboard exchange, written once as `t` schemas with their types.
// The API validates responses and builds its OpenAPI components from these; every other part uses the `Static` types.
import { t } from "elysia/type-system";
import type { Static } from "@sinclair/typebox";
import type { Config } from "../config/schema.ts";
import { KIND_NAMES } from "../kinds/index.ts";
import { KEY_NAME } from "./key-format.ts";
import type { NamedBlob } from "./model-routes.ts";

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
  cloudUrl: "https://relay.example.com/t/alice/",
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

/** A schema or null (the API's models use it too). */
export const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

export const LatencySummary = t.Object({
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
    latencyMs: LatencySummary,
    ttfbMs: LatencySummary,
    requestsPerSec: t.Number(),
    bytesPerSec: t.Number(),
    tokensPerSec: Nullable(t.Number()),
    healthLatencyMs: LatencySummary,
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
    kind: t.UnionEnum(KIND_NAMES, { description: "The kind of server (docs/broker.md, the kinds table)." }),
    url: t.String({ examples: ["http://127.0.0.1:11434"] }),
    enabled: t.Boolean(),
    priority: t.Number(),
    state: UpstreamState,
    quality: Quality,
    version: Nullable(t.String()),
    models: t.Array(t.String()),
    loaded: t.Optional(t.Array(t.String(), { description: "Models in its memory now, as its kind reports them (Ollama /api/ps, llama.cpp and vLLM: the model they serve, LM Studio's native model list); empty when it does not say." })),
    capacity: t.Optional(
      Nullable(
        t.Object(
          {
            slots: Nullable(t.Number({ description: "Requests it runs at once (llama.cpp /slots or /props total_slots, LM Studio's parallel)." })),
            busy: Nullable(t.Number({ description: "Requests it was running (llama.cpp /slots, vLLM vllm:num_requests_running)." })),
            waiting: Nullable(t.Number({ description: "Requests in its own queue (vLLM vllm:num_requests_waiting)." })),
            at: t.String({ description: "ISO time of the report." }),
          },
          { description: "The load the server last reported with a health check; null when its kind reports none." },
        ),
      ),
    ),
    inFlight: t.Optional(t.Number({ description: "The broker's own requests to it in flight now (the router adds them to the reported load)." })),
    lastCheck: Nullable(t.String({ description: "ISO time of the last health check." })),
    lastError: Nullable(t.String()),
    metrics: UpstreamMetrics,
  },
  { additionalProperties: true, examples: [UPSTREAM_EXAMPLE] },
);

export const TunnelState = t.UnionEnum(["disabled", "stopped", "connecting", "connected", "reconnecting", "auth_failed", "failed"]);

export const TunnelStatus = t.Object(
  {
    state: TunnelState,
    protocol: t.UnionEnum(["v2", "bridge-v1"]),
    relay: Nullable(t.String()),
    since: Nullable(t.String()),
    nextRetry: Nullable(t.String()),
    attempt: t.Number(),
    lastError: Nullable(t.String()),
    lastErrorCode: t.Optional(Nullable(t.String({ description: "Stable code of lastError (e.g. unauthorized, signed_out, login_required, no_token; displaced: another agent took the tunnel over; docs/errors.md lists every one)." }))),
    tunnelId: Nullable(t.String()),
    cloudUrl: t.Optional(Nullable(t.String({ description: "The URL cloud clients call to reach this tunnel through the relay (https://RELAY/t/ID/); null until the relay named the tunnel." }))),
    fix: t.Optional(Nullable(t.String({ description: "What to do about lastError, fitting this setup (e.g. `cloudtolocalllm-tunnel secret set tunnel-token` without [auth]); null when connected or nothing is known." }))),
    activeStreams: t.Number(),
  },
  { additionalProperties: true, examples: [TUNNEL_EXAMPLE] },
);

export const AlertSeverity = t.UnionEnum(["warning", "critical"]);

export const Alert = t.Object(
  {
    id: t.String({ examples: ["upstream_down:local"] }),
    rule: t.String(),
    severity: AlertSeverity,
    subject: t.String(),
    message: t.String(),
    raisedAt: t.String(),
    clearedAt: t.Optional(t.String()),
  },
  { additionalProperties: true, examples: [ALERT_EXAMPLE] },
);

const ReloadIssue = t.Object({
  message: t.String(),
  file: t.Optional(t.String()),
  line: t.Optional(t.Number()),
  column: t.Optional(t.Number()),
  path: t.Optional(t.String()),
});

export const ReloadResult = t.Object({
  at: t.String(),
  ok: t.Boolean(),
  /** The first problem of a rejected reload. */
  error: t.Optional(ReloadIssue),
  /** Every problem, when there is more than one (the first is `error`). */
  issues: t.Optional(t.Array(ReloadIssue)),
});

export const AuthState = t.UnionEnum(["disabled", "signed_out", "signed_in", "login_required"]);

/** The broker's queue (max_parallel): requests waiting now, and since start how many waited, how long, and refusals. */
export const QueueStatus = t.Object({
  waiting: t.Integer({ description: "Requests waiting for a free upstream or key slot now." }),
  queued: t.Integer({ description: "Requests that had to wait, since start." }),
  waitedMs: t.Number({ description: "Time they waited, summed, since start." }),
  refusedFull: t.Integer({ description: "Refused because the queue was full (429), since start." }),
  timedOut: t.Integer({ description: "Refused after queue_timeout (503), since start." }),
});

/** A refresh that keeps failing (issuer down, 5xx): what went wrong, how often, and when the daemon tries next. */
export const RefreshTrouble = t.Object({
  lastError: t.String({ description: "Why the last refresh failed." }),
  attempt: t.Integer({ description: "Failed attempts in a row." }),
  nextRetryAt: Nullable(t.String({ description: "When the next attempt is due (ISO time)." })),
  tokenExpired: t.Boolean({ description: "The access token expired before a refresh succeeded (the tunnel has no valid credential)." }),
});
export const VerdictLevel = t.UnionEnum(["ok", "checking", "warning", "critical"]);

/** The one health verdict (src/core/verdict.ts): every surface (status, tray, dashboard, /metrics) shows this. */
export const Verdict = t.Object(
  {
    quality: Quality,
    level: VerdictLevel,
    upstream: Nullable(t.String({ description: "The upstream the problem is about, if one is." })),
    reason: Nullable(t.String({ description: "Why, e.g. \"connection refused\"." })),
    fix: Nullable(t.String({ description: "What to do about it, e.g. \"is Ollama running? `systemctl --user start ollama` or `ollama serve`\"." })),
    text: t.String({ description: "One line: the problem, its reason and fix; \"quality excellent\" when there is none." }),
  },
  { additionalProperties: true },
);

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
    verdict: Verdict,
    alerts: t.Array(Alert),
    auth: t.Object({
      state: AuthState,
      subject: Nullable(t.String()),
      expiresAt: Nullable(t.String()),
      reason: t.Optional(Nullable(t.String())),
      refresh: t.Optional(Nullable(RefreshTrouble)),
      unstored: t.Optional(Nullable(t.String({ description: "Set while signed in with tokens the secret store refused (a locked keyring): the sign-in lasts for this run only; says why and what to do." }))),
    }),
    warnings: t.Array(t.String()),
    queue: t.Optional(QueueStatus),
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
        verdict: { quality: "good", level: "ok", upstream: null, reason: null, fix: null, text: "quality good" },
        alerts: [ALERT_EXAMPLE],
        auth: { state: "signed_in", subject: "ada@example.com", expiresAt: "2026-11-21T16:00:00.000Z" },
        warnings: [],
      },
    ],
  },
);

export const RequestSource = t.UnionEnum(["local", "tunnel"]);

/** One request through the broker or the tunnel, for the inspector and metrics. */
export const RequestRecord = t.Object(
  {
    id: t.String(),
    time: t.String({ description: "ISO time the request finished." }),
    source: RequestSource,
    method: t.String(),
    path: t.String(),
    model: Nullable(t.String()),
    upstream: Nullable(t.String()),
    status: t.Number({ description: "HTTP status; 0 when no response was sent." }),
    ttfbMs: Nullable(t.Number({ description: "Time to first byte / token." })),
    durationMs: t.Number(),
    tokensPerSec: Nullable(t.Number()),
    bytesIn: t.Number(),
    bytesOut: t.Number(),
    error: Nullable(t.String()),
    requestBody: t.Optional(t.String({ description: "Only with [dashboard] capture_bodies, cut to body_cap bytes." })),
    responseBody: t.Optional(t.String()),
    /** Set when only the first `[dashboard] body_cap` bytes of the body were kept. */
    requestBodyTruncated: t.Optional(t.Boolean()),
    responseBodyTruncated: t.Optional(t.Boolean()),
    promptTokens: t.Optional(Nullable(t.Number({ description: "Prompt tokens the upstream reported (Ollama prompt_eval_count, OpenAI prompt_tokens)." }))),
    completionTokens: t.Optional(Nullable(t.Number({ description: "Generated tokens the upstream reported." }))),
    tokensEstimated: t.Optional(t.Boolean({ description: "The token counts are the broker's estimate: a stream that ended before the upstream's counts (tokens relayed, prompt from the body's size)." })),
    key: t.Optional(Nullable(t.String({ description: "The name of the API key the request used, or null." }))),
    caller: t.Optional(t.UnionEnum(["local", "lan", "tunnel"], { description: "local (this machine), lan (another machine) or tunnel." })),
    queueMs: t.Optional(t.Number({ description: "Time the request waited in the broker's queue (max_parallel)." })),
    resumed: t.Optional(
      t.Object(
        {
          count: t.Number({ description: "Times the relay took the answer over on a new connection after the old one was lost (0: held, never needed)." }),
          replayedBytes: t.Number({ description: "Answer bytes sent again because the relay had not received them." }),
        },
        { description: "A tunnel answer held for resume (docs/protocol.md, Resume)." },
      ),
    ),
    requestHeaders: t.Optional(
      t.Record(t.String(), t.String(), { description: "The client's request headers, credentials (Authorization, x-api-key, cookies, c2l_ keys) shown as [redacted]; at most 48, values cut at 256 characters." }),
    ),
    responseHeaders: t.Optional(t.Record(t.String(), t.String(), { description: "The response headers the client got, redacted and bounded the same way." })),
  },
  { additionalProperties: true },
);

export const DeviceLoginStarted = t.Object(
  {
    verificationUri: t.String({ description: "Page where the user enters the code.", examples: ["https://id.example.com/device"] }),
    verificationUriComplete: Nullable(t.String({ description: "The same page with the code filled in, when the issuer offers it." })),
    userCode: t.String({ description: "Code the user types or confirms.", examples: ["WDJB-MJHT"] }),
    expiresAt: t.String({ description: "When the code stops working (ISO time)." }),
  },
  { description: "A device sign-in waiting for the user; progress follows as auth.progress events." },
);

/** The daemon's sign-in state as the auth service reports it. */
export const AuthStatus = t.Object({
  state: AuthState,
  subject: Nullable(t.String({ description: "The signed-in user's subject (sub claim)." })),
  name: Nullable(t.String()),
  expiresAt: Nullable(t.String({ description: "When the current access token expires (ISO time)." })),
  reason: Nullable(t.String({ description: "Why sign-in is required, or why the session is in trouble (refreshes failing)." })),
  refresh: Nullable(RefreshTrouble),
  unstored: t.Optional(Nullable(t.String({ description: "Set while signed in with tokens the secret store refused (a locked keyring): the sign-in lasts for this run only; says why and what to do." }))),
  pending: Nullable(DeviceLoginStarted),
});

/** The once-a-second /ws message: each upstream's metrics and reported load, and the tunnel's counters. */
export const MetricsTick = t.Object({
  upstreams: t.Array(t.Object({ name: t.String(), metrics: UpstreamMetrics, loaded: UpstreamStatus.properties.loaded, capacity: UpstreamStatus.properties.capacity })),
  tunnel: t.Object({ state: TunnelState, activeStreams: t.Number(), attempt: t.Number() }),
  queue: t.Optional(QueueStatus),
});

export { KEY_NAME, KEY_PREFIX } from "./key-format.ts";

/** What is stored for a key: never the key, only its hash and the first characters that identify it to a person. */
export const KeyRecord = t.Object({
  name: t.String({ pattern: KEY_NAME.source, description: "The key's name (what `key show` and usage name it by).", examples: ["editor"] }),
  /** The key's first characters, shown so a person can tell keys apart; too short to use. */
  prefix: t.String({ description: "The key's first 8 characters (c2l_ and 4 more).", examples: ["c2l_Xy3k"] }),
  hash: t.String({ description: "sha256 of the key, hex." }),
  models: t.Array(t.String(), { description: "Model globs this key may use (e.g. llama3*, qwen2.5:*); empty = every model." }),
  rpm: t.Integer({ minimum: 0, description: "Requests per minute; 0 = no limit." }),
  tokens_per_day: t.Integer({ minimum: 0, description: "Prompt + completion tokens per UTC day; 0 = no limit." }),
  max_parallel: t.Integer({ minimum: 0, description: "Requests of this key at once; 0 = no limit." }),
  /** Absent in keys made before it existed: those may not manage models either. */
  allow_model_management: t.Optional(
    t.Boolean({ description: "Whether the key may pull, push, create, copy and delete models, upload blobs, and unload a model an upstream's keep_alive keeps loaded (`ollama stop`) (only models its list allows, and with a list, create only from blobs this key uploaded); default false." }),
  ),
  expires_at: t.Union([t.String(), t.Null()], { description: "ISO time the key stops working, or null." }),
  created_at: t.String(),
});

/** A key as the API, the CLI and the dashboard show it: everything but the hash. */
export const KeyInfo = t.Omit(KeyRecord, ["hash"]);

/** One line of usage: a UTC day, a key (or "-"), a model and a caller class, with what they used. */
export const UsageRow = t.Object({
  day: t.String({ description: "UTC day, YYYY-MM-DD.", examples: ["2026-12-05"] }),
  key: t.String({ description: 'The API key\'s name, or "-" for requests without one.' }),
  model: t.String(),
  caller: t.UnionEnum(["local", "lan", "tunnel"]),
  requests: t.Integer(),
  errors: t.Integer(),
  prompt_tokens: t.Integer(),
  completion_tokens: t.Integer(),
  queue_ms: t.Number({ description: "Time these requests waited in the broker's queue, summed." }),
});

export type UpstreamState = Static<typeof UpstreamState>;
export type Quality = Static<typeof Quality>;
export type LatencySummary = Static<typeof LatencySummary>;
export type UpstreamMetrics = Static<typeof UpstreamMetrics>;
export type UpstreamStatus = Static<typeof UpstreamStatus>;
export type TunnelState = Static<typeof TunnelState>;
export type TunnelStatus = Static<typeof TunnelStatus>;
export type AlertSeverity = Static<typeof AlertSeverity>;
export type Alert = Static<typeof Alert>;
export type ReloadResult = Static<typeof ReloadResult>;
export type AuthState = Static<typeof AuthState>;
export type DaemonStatus = Static<typeof DaemonStatus>;
export type Verdict = Static<typeof Verdict>;
export type VerdictLevel = Static<typeof VerdictLevel>;
export type RequestSource = Static<typeof RequestSource>;
export type RequestRecord = Static<typeof RequestRecord>;
export type DeviceLoginStarted = Static<typeof DeviceLoginStarted>;
export type AuthStatus = Static<typeof AuthStatus>;
export type RefreshTrouble = Static<typeof RefreshTrouble>;
export type MetricsTick = Static<typeof MetricsTick>;
export type QueueStatus = Static<typeof QueueStatus>;
export type KeyRecord = Static<typeof KeyRecord>;
export type KeyInfo = Static<typeof KeyInfo>;
export type UsageRow = Static<typeof UsageRow>;

/** What the broker offers to the API, the tunnel, alerts and the tray. */
export interface BrokerService {
  upstreams(): UpstreamStatus[];
  upstream(name: string): UpstreamStatus | undefined;
  check(name: string): Promise<UpstreamStatus>;
  reconnectAll(): Promise<void>;
  /** Every model of the usable upstreams: which serve it, and which have it loaded (Ollama's /api/ps) now. */
  models(): { name: string; upstreams: string[]; loaded: string[] }[];
  /** Whether an upstream lists `model` (as its last model list said), or it is an alias: a real name, not a made-up one. */
  serves?(model: string): boolean;
  overallQuality(): Quality;
  /**
   * Serves one Ollama/OpenAI-compatible request with admission (keys), routing and failover (used by the proxy listener
   * and the tunnel). `peer` is the caller's address as the listener saw it (none through the tunnel).
   */
  handle(req: Request, source: "local" | "tunnel", peer?: string | null): Promise<Response> | Response;
  /** The queue in front of the upstreams (max_parallel). */
  queue?(): QueueStatus;
  /** A key was revoked: the requests it has waiting in the queue (by its hash) are answered with `why` now. Returns how many. */
  refuseQueued?(keyHash: string, why: Error): number;
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
  /** A desktop notification through the alerts' notifier, when [alerts] notifications is on (dashboard access requests). */
  notify?(n: { title: string; body: string; urgency: "low" | "normal" | "critical" }): void;
}

export interface ConfigService {
  current(): Config;
  path(): string;
  lastReload(): ReloadResult | null;
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
  /**
   * Asks the backend now (not at open) whether a secret could be stored: null when it could, else the sentence saying
   * why not (a keyring locked, or gone, since; the file store's disk full or read-only). Memory leaves it out.
   */
  checkWritable?(): Promise<string | null>;
  /**
   * The copy of `name` a fallback file beside the keyring kept from a time without one (never read otherwise), or null:
   * `delete` deletes it too, and a sign-out revokes the refresh token it holds first.
   */
  leftover?(name: string): Promise<string | null>;
}

/** What other components use: the tunnel reads the access token and reconnects when it changes. */
export interface AuthService {
  status(): AuthStatus;
  /** The current access token, refreshed first when it is about to expire; null when not signed in. */
  accessToken(): Promise<string | null>;
  /** Called with each new access token (after sign-in or refresh) and with null on sign-out / login required. */
  onToken(cb: (token: string | null) => void): () => void;
  startDeviceLogin(): Promise<AuthStatus["pending"] & {}>;
  logout(): Promise<void>;
  /** Re-reads the session from the secret store (after `login` or `logout` on the command line). */
  reload(): Promise<void>;
  refreshNow(): Promise<void>;
}

export interface InspectorOptions {
  /** Records kept; the oldest is dropped first. 0 keeps nothing. */
  size: number;
  /** Keep request and response bodies (off by default: prompts and answers are private). */
  captureBodies: boolean;
  /** Bytes of each body kept when capture is on. */
  bodyCap: number;
}

/** A record as the inspector keeps it: bodies only with capture on, cut to the cap, and flagged when cut. */
export type InspectedRequest = RequestRecord;

export interface RequestFilter {
  source?: "local" | "tunnel";
  upstream?: string;
  model?: string;
  method?: string;
  /** A status class ("2xx", "5xx", "error" = failed or status ≥ 400) or an exact code ("404"). */
  status?: string;
  /** Case-insensitive substring of the path. */
  path?: string;
  /** Only records newer than the one with this id (for catching up after a reconnect). */
  after?: string;
  /** At most this many, newest first. */
  limit?: number;
}

/** What the inspector offers to the API. */
export interface InspectorService {
  list(filter?: RequestFilter): InspectedRequest[];
  get(id: string): InspectedRequest | undefined;
  options(): InspectorOptions;
  /** Records currently kept. */
  size(): number;
}

/** One sample of an upstream's chart history. */
export interface Point {
  t: number;
  p50: number | null;
  p95: number | null;
  rps: number;
  tps: number | null;
}

/** The last 15 minutes of samples, for the dashboard's charts. */
export interface MetricsHistoryService {
  intervalMs: number;
  all(): Record<string, Point[]>;
}

/** What the API asks of the running configuration (the daemon's ConfigRuntime): install a validated config, re-read the file. */
export interface ConfigRuntimeControl {
  replace(next: Config, text?: string): Promise<ReloadResult>;
  reload(fileText?: string): Promise<ReloadResult>;
}

/** What a new gateway key may do (the CLI's and the API's `create`). */
export interface KeyLimits {
  models: string[];
  rpm: number;
  tokens_per_day: number;
  max_parallel: number;
  /** Model management (pull, push, create, copy, delete, blobs); off when absent. */
  allow_model_management?: boolean;
  /** Milliseconds from creation, or null for a key that does not expire. */
  expiresInMs: number | null;
}

/** Where a broker caller is: this machine, another machine on a network the broker listens on, or behind the tunnel. */
export type CallerClass = "local" | "lan" | "tunnel";

export interface Caller {
  source: "local" | "tunnel";
  /** The peer address the listener saw (null through the tunnel, or when the runtime does not know it). */
  ip: string | null;
}

/**
 * What a request's body names besides the model it acts on (src/broker/model-fields.ts), for a key's model allowlist:
 * `path` (the route, src/core/model-routes.ts routeOf) for model management, `others` (copy's destination, create's base
 * model), `opaque` (a field naming models in text the broker does not read), whether the whole body was read
 * (`complete`), and `encoding`: a Content-Encoding the broker does not decode (the upstream might), or null.
 */
export interface RequestModelNames {
  path: string;
  /** The request's method: a route may list on GET and manage models on others (llama.cpp's /models). */
  method?: string;
  others: readonly string[];
  opaque: string | null;
  complete: boolean;
  /** Why a body was not read whole: past the per-request limit, or the replay buffer ([proxy] replay_buffer) was full. */
  cut: "limit" | "budget" | null;
  encoding: string | null;
  /** The blobs the body builds a model from (an /api/create's `files`, `adapters`, `draft_files`); none when absent. */
  blobs?: readonly NamedBlob[];
}

/** What admission decided: the key in force (null when none was needed and none given) and the caller's class. */
export interface Admitted {
  key: KeyRecord | null;
  caller: CallerClass;
  /** When authorize() counted the request in its key's --rpm minute (the clock's ms), so unqueued() gives back that one. */
  countedAt?: number;
}

/** The gateway: who may use the broker (admit, for the broker and the tunnel alike) and its keys (for the API and dashboard). */
export interface GatewayService {
  /** Who is calling: throws an HttpError 401 when a key is needed and missing, or a sent key is unknown or expired. */
  /** `json`: the same headers as `headers.toJSON()` made them, when the caller already has that (one per request). */
  admit(headers: Headers, caller: Caller, json?: Record<string, string | string[]> | null): Admitted;
  /**
   * What they may do: model management (403 without the key's permission), the key's model allowlist (403) and rate
   * (429 with Retry-After); `model` undefined for routes without one; `alias` the name the caller sent when `model` is
   * what it stands for (either may be allowed); `request` the route and the other models its body names.
   */
  authorize(admitted: Admitted, model: string | null | undefined, alias?: string, request?: RequestModelNames): void;
  /** Whether the admitted caller may use `model` (the model lists show only those). */
  mayUse(admitted: Admitted, model: string): boolean;
  /** The admitted key uploaded blob `digest` through the broker (the bytes it sent hash to it): it may build models from it. */
  grantBlob(admitted: Admitted, digest: string): void;
  /**
   * Holds part of the key's daily token budget for an authorized generation (or embedding) request until its usage is
   * counted, so requests in flight count against the budget: `promptTokens` is the broker's estimate of its prompt, the
   * body is read for its generation limit (the fields every upstream reads); `generates: false` (an embedding, a
   * rerank) holds the prompt alone. Returns the release (call it after request.completed), or null without a budget.
   */
  reserve(admitted: Admitted, body: Uint8Array | null, promptTokens: number, generates?: boolean): (() => void) | null;
  /** After a wait in the queue: throws an HttpError 401 when the caller's key was revoked or expired meanwhile. */
  recheck(admitted: Admitted): void;
  /**
   * The request authorize() let in reached no upstream: refused a place in the broker's queue (429, full), or it waited
   * there and got no slot (503, queue_timeout): it gives back the place it took in the key's --rpm minute.
   */
  unqueued(admitted: Admitted): void;
  keys(): KeyInfo[];
  key(name: string): KeyInfo | undefined;
  /** The key itself is in the answer once and never again. */
  createKey(name: string, limits: KeyLimits): { key: string; info: KeyInfo };
  revokeKey(name: string): boolean;
  /** Usage rows, oldest day first; `since` is a UTC day (YYYY-MM-DD). */
  usage(q: { key?: string; model?: string; since?: string }): UsageRow[];
}

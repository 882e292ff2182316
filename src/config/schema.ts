// The one configuration schema: TypeScript type, defaults, validation and reference docs all come from here.
import { Type as T, type Static, type TArray, type TObject, type TSchema, type TString } from "@sinclair/typebox";
import "./formats.ts";
import { DEFAULT_KIND, KIND_NAMES, KINDS } from "../kinds/index.ts";
import { DEFAULT_TUNNEL_PATHS } from "./tunnel-paths.ts";

// Durations are written the way people say them ("250ms", "30s", "5m", "1h"); see duration.ts.
export const DURATION_PATTERN = "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$";
declare const DURATION: unique symbol;
/** The schema of a duration field: a string as written in the file, milliseconds in the resolved config (resolve.ts). */
export type TDuration = TString & { readonly [DURATION]: true };
/**
 * The least a duration may be, and why (as caddy and Kubernetes refuse a probe period or timeout under theirs): a wait
 * that fails when it passes ("0s" fails every try), or a pause between checks ("1ms" hammers the upstream). Refused in
 * the decode step (duration-floors.ts), so `config validate`, a reload and the API's PUT refuse it alike.
 */
export interface DurationFloor {
  min: string;
  why: string;
}

/** The one way a schema declares a duration (the relay's schema too): resolve.ts finds them by their format. */
export const Duration = (def: string, description: string, floor?: DurationFloor) =>
  T.String({
    pattern: DURATION_PATTERN,
    default: def,
    description: floor ? `${description} At least ${floor.min}.` : description,
    examples: [def],
    format: "c2l-duration",
    ...(floor && { minDuration: floor.min, minDurationWhy: floor.why }),
  }) as TDuration;

/** A wait that fails when it passes: under this nothing answers in time, and "0s" fails every try. */
export const WAIT_FLOOR = (why: string): DurationFloor => ({ min: "100ms", why });
/** A pause between health checks: closer ones would hammer the upstream with checks. */
const CHECK_PAUSE_FLOOR: DurationFloor = { min: "100ms", why: "closer health checks would hammer the upstream" };

/** A schema's value with every duration decoded into milliseconds: what components read (caddy's Duration, decoded once). */
export type Resolved<S> = S extends TDuration ? number : S extends TObject<infer P> ? { [K in keyof P]: Resolved<P[K]> } : S extends TArray<infer I> ? Resolved<I>[] : S extends TSchema ? Static<S> : never;

// host:port, with [::1]:port for IPv6; the port is range-checked in validate.ts.
const Listen = (def: string, description: string) =>
  T.String({ default: def, description, format: "c2l-listen", examples: [def] });

const Url = (def: string, description: string) =>
  T.String({ default: def, description, format: "c2l-url-or-empty", examples: def ? [def] : undefined });

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export const QUALITY_LEVELS = ["excellent", "good", "poor", "critical"] as const;

export { DEFAULT_TUNNEL_PATHS };

export const ApiSchema = T.Object(
  {
    listen: Listen("127.0.0.1:8765", "Address of the control API, the dashboard and Swagger UI. Keep it on loopback."),
    allowed_origins: T.Array(T.String(), {
      default: [],
      description: "Browser origins allowed to call the API (CORS and WebSocket). The API's own origin is always allowed.",
    }),
    allowed_hosts: T.Array(T.String(), {
      default: [],
      description: "Extra Host header names accepted besides 127.0.0.1, localhost and [::1] (DNS-rebinding guard).",
    }),
    token_file: T.String({
      default: "",
      description: "File holding the API token (mode 0600). Empty: $XDG_CONFIG_HOME/cloudtolocalllm/api-token.",
    }),
    body_limit: T.Integer({ default: 1048576, minimum: 1024, description: "Largest request body the API accepts, in bytes." }),
  },
  { additionalProperties: false, default: {}, description: "Local control API." },
);

export const ProxySchema = T.Object(
  {
    enabled: T.Boolean({ default: true, description: "Run the Ollama-compatible listener." }),
    listen: Listen("127.0.0.1:11435", "Address of the Ollama-compatible endpoint that apps talk to."),
    max_attempts: T.Integer({
      default: 3,
      minimum: 1,
      maximum: 10,
      description: "Upstreams tried for one request before giving up (failover happens only before the first byte).",
    }),
    allowed_hosts: T.Array(T.String(), {
      default: [],
      description: "Extra Host header names accepted besides loopback names (DNS-rebinding guard); any Host is accepted on a non-loopback listen address.",
    }),
    allowed_origins: T.Array(T.String(), {
      default: [],
      description: "Browser origins allowed besides Ollama's defaults (http(s)://localhost, 127.0.0.1, app://, file://, tauri://, vscode-webview://); \"*\" allows all.",
    }),
    sticky: T.Boolean({
      default: false,
      description: "Send the requests of one conversation (the same opening messages) to the same upstream, so it reuses its cache of that prefix; failover still applies.",
    }),
    replay_buffer: T.Integer({
      default: 67108864,
      minimum: 0,
      description:
        "Bytes of request bodies held in memory for failover, across all requests (64 MiB). A body beyond its first 64 KiB that does not fit streams to one upstream without failover; 0 keeps only bodies up to 64 KiB for failover.",
    }),
    queue_limit: T.Integer({ default: 256, minimum: 0, description: "Requests that may wait for a free upstream (max_parallel) or key slot; one more is refused with 429. Each key waiting holds at most its share (queue_limit / keys waiting, at least one); a key with nothing waiting always gets a place." }),
    queue_timeout: Duration("2m", "How long a request may wait in the queue before it is refused with 503."),
    idle_timeout: Duration(
      "30s",
      "Only on a listen address beyond loopback: how long a connection may stay silent (1s to 255s) until a request of it is admitted (its key accepted, or a caller that needs none): an idle keep-alive connection, or one trickling its request head (slowloris), is closed then. An admitted request is never cut by it (generations can be silent for minutes). \"0s\": no limit. Takes effect when the listener binds (start, or a new listen address).",
    ),
    require_key: T.Union([T.Literal("auto"), T.Literal("always"), T.Literal("never")], {
      default: "auto",
      description:
        "Who must send an API key (`key create`): auto = callers from other machines (not this machine's, not the tunnel's, whom the relay admitted); always = every caller; never = nobody (a listen address beyond loopback is then open to its whole network). With auto or always, listening beyond loopback without a key is refused.",
    }),
  },
  { additionalProperties: false, default: {}, description: "The Ollama-compatible broker endpoint." },
);

export const UpstreamSchema = T.Object(
  {
    name: T.String({ minLength: 1, pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$", description: "Unique name, used in metrics and logs." }),
    kind: T.Union(
      KIND_NAMES.map((k) => T.Literal(k)),
      {
        default: DEFAULT_KIND,
        description: `The kind of server: how it is probed and what it reports (models, loaded models, free slots); openai for any other OpenAI-compatible server. The kinds table in docs/broker.md says what each reads.`,
      },
    ),
    url: T.String({
      format: "c2l-url",
      description:
        "Base URL, e.g. http://127.0.0.1:11434. A path is put before every route (http://host/ollama → /ollama/api/chat); a query (?api-version=2024-10-21) is merged onto every request sent there, probes and model lists included, after the caller's own parameters (the URL's win over one of the same name). A fragment (#…) is ignored, as HTTP clients never send one. A user and password in it (https://user:pass@host) are sent as Basic auth and are the operator's credential as auth_secret is (over http:// to another machine, warned about as it is): never shown (status, logs, metrics, export show user:redacted@), replaced by [redacted] in the upstream's error answers, and account-selecting headers (OpenAI-Organization, anthropic-beta …) never go with them; to keep it out of the config file, store base64 of user:pass as the secret auth_secret names, with auth_scheme = \"Basic\".",
    }),
    priority: T.Integer({ default: 100, minimum: 0, description: "Lower is preferred." }),
    enabled: T.Boolean({ default: true }),
    connect_timeout: Duration("5s", "Time allowed to open a connection.", WAIT_FLOOR("every connection would time out before it could open")),
    first_byte_timeout: Duration("300s", "Time allowed until the first response byte (model loading can be slow).", WAIT_FLOOR("every request would time out before its answer could start")),
    stream_idle_timeout: Duration(
      "5m",
      "After the first response byte: a stream that sends nothing for this long is ended with an error line and counted as an upstream error (a stalled upstream). `0s` turns it off. Prompt processing before the first byte falls under first_byte_timeout.",
    ),
    keep_alive: T.String({
      default: "",
      description:
        'How long this upstream keeps a model loaded after a request ("10m", "-1" forever, "0" unload at once): set on every Ollama chat, generate and embed request sent to it but an explicit unload (`ollama stop`: an empty prompt or messages with keep_alive 0), which unloads as asked. Empty: what the client sent passes as it is.',
    }),
    max_parallel: T.Integer({
      default: 0,
      minimum: 0,
      description: "Requests this upstream serves at once; more wait in the broker's queue (fair across keys) or go to another free upstream. 0 = no limit.",
    }),
    auth_secret: T.String({ default: "", description: "Name of a secret (see `secret set`) sent as the auth header. Over an http:// url to another machine (not loopback) anyone on the path can read it: the daemon warns once as the upstream is set up (start, or a reload that changes it), and doctor shows it." }),
    auth_header: T.String({ default: "Authorization", description: "Header that carries the secret." }),
    auth_scheme: T.String({ default: "Bearer", description: "Prefix before the secret in the header; empty for none." }),
    ca_file: T.String({
      default: "",
      description:
        "https:// only: the CA certificate(s) (PEM) this upstream's certificate must chain to, in place of the system store (a private CA, or a self-signed certificate itself). Read when the upstream is set up (start, or a change of its config). NODE_TLS_REJECT_UNAUTHORIZED is ignored for upstreams.",
    }),
    tls_insecure: T.Boolean({
      default: false,
      description:
        "https:// only: do not verify this upstream's certificate (logged as a warning). Anyone on the path can then read and change its traffic, auth_secret included; prefer ca_file.",
    }),
  },
  { additionalProperties: false },
);

export const HealthSchema = T.Object(
  {
    interval: Duration("10s", "Time between health checks of an upstream that is up.", CHECK_PAUSE_FLOOR),
    down_interval: Duration("30s", "Time between health checks of an upstream that is down.", CHECK_PAUSE_FLOOR),
    timeout: Duration("3s", "Time allowed for one health check.", WAIT_FLOOR("every health check would time out before its answer could arrive")),
    failures_before_down: T.Integer({ default: 3, minimum: 1, description: "Consecutive failed checks before an upstream is down; as many first-byte timeouts in a row (first_byte_timeout, on generations and embeddings) take it down too, however well its checks answer." }),
  },
  { additionalProperties: false, default: {}, description: "Upstream health checks." },
);

export const QualitySchema = T.Object(
  {
    critical_error_rate: T.Number({ default: 0.1, minimum: 0, maximum: 1, description: "Error rate above which quality is critical." }),
    good_error_rate: T.Number({ default: 0.05, minimum: 0, maximum: 1, description: "Error rate above which quality is at best good." }),
    poor_latency_ms: T.Number({ default: 5000, minimum: 0, description: "Latency above which quality is poor." }),
    good_latency_ms: T.Number({ default: 1000, minimum: 0, description: "Latency above which quality is at best good." }),
    min_requests: T.Integer({
      default: 5,
      minimum: 1,
      description: "Requests in the metrics window needed before the error rate judges quality (1 failure of 1 is not critical).",
    }),
  },
  { additionalProperties: false, default: {}, description: "Quality thresholds (defaults are the 1.x app's)." },
);

export const MetricsSchema = T.Object(
  {
    window: Duration("5m", "Sliding window for latency percentiles, rates and error rate."),
  },
  { additionalProperties: false, default: {}, description: "Traffic metrics." },
);

export const TunnelSchema = T.Object(
  {
    enabled: T.Boolean({ default: false, description: "Connect out to a relay so the cloud can reach this machine." }),
    relay_url: Url("", "Relay WebSocket URL, e.g. wss://relay.example.com/agent."),
    protocol: T.Union([T.Literal("v2"), T.Literal("bridge-v1")], {
      default: "v2",
      description: "v2: multiplexed streaming protocol. bridge-v1: the 1.x CloudToLocalLLM cloud (no streaming).",
    }),
    token_secret: T.String({ default: "tunnel-token", description: "Name of the secret holding the agent token." }),
    ca_file: T.String({ default: "", description: "Extra CA certificate (PEM) to trust for the relay, added to the system store and NODE_EXTRA_CA_CERTS; certificates are always verified." }),
    allow_plaintext_relay: T.Boolean({
      default: false,
      description: "Allow a ws:// (unencrypted) relay_url to another machine: the agent token and every prompt and answer then cross the network in cleartext. Only for a network you trust end to end (a WireGuard link); ws:// to this machine (localhost, 127.0.0.1, ::1) needs no opt-in.",
    }),
    allowed_paths: T.Array(T.String(), {
      default: DEFAULT_TUNNEL_PATHS,
      description: "Paths the relay may call (inference and listing by default), matched on the route the broker decides on: /api/chat/, //api/chat and /api/%63hat are /api/chat.",
    }),
    allow_model_management: T.Boolean({
      default: false,
      description: "Also allow model management through the tunnel: /api/pull, /api/push, /api/create, /api/copy, /api/delete, /api/blobs, the load, unload and download routes of llama.cpp, LM Studio and vLLM, and Ollama's explicit unload (`ollama stop`) of a model an upstream's keep_alive keeps loaded (not the routes of Ollama's ollama.com account and profiler, /api/me, /api/signout, /api/user/keys, /api/experimental/web_search and web_fetch, /debug: only allowed_paths opens those).",
    }),
    max_streams: T.Integer({ default: 256, minimum: 1, description: "Concurrent streams accepted from the relay; named to it in HELLO, so a relay of 3.4 or later opens no more (its calls past them wait)." }),
    go_away_grace: Duration("30s", "On shutdown (SIGTERM), time in-flight tunnel requests get to finish before the connection closes."),
    stall_timeout: Duration(
      "60s",
      "A request from the relay left waiting on it this long is reset and logged: its body stopped coming (no data, no end), or its answer got no credit (the relay's client stopped reading). Like nginx's client_body_timeout and send_timeout: a slow but moving stream is never cut, nor a model that is slow to answer; 0 never.",
    ),
    resume_window: Duration("60s", "An answer whose relay connection ended is held this long for the relay to resume it (the upstream keeps generating); 0 turns resuming off."),
    backoff: T.Object(
      {
        initial: Duration("1s", "First reconnect delay."),
        max: Duration("60s", "Largest reconnect delay."),
        multiplier: T.Number({ default: 2, minimum: 1, description: "Growth of the delay after each failure." }),
        jitter: T.Number({ default: 0.2, minimum: 0, maximum: 1, description: "Random spread of each delay (0.2 = ±20 %)." }),
        reset_after: Duration("30s", "A connection that stayed up this long starts the delays over from initial."),
      },
      { additionalProperties: false, default: {} },
    ),
    heartbeat: T.Object(
      {
        interval: Duration("10s", "Time between pings."),
        tolerance: Duration("15s", "Silence after which the connection is declared dead."),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {}, description: "Outbound tunnel to a relay." },
);

export const AlertsSchema = T.Object(
  {
    enabled: T.Boolean({ default: true }),
    notifications: T.Boolean({ default: true, description: "Show desktop notifications for raised and cleared alerts." }),
    upstream_down_after: Duration("30s", "An upstream down this long raises an alert."),
    quality_level: T.Union(QUALITY_LEVELS.map((q) => T.Literal(q)), {
      default: "poor",
      description: "Quality at or below this level, for quality_after, raises an alert.",
    }),
    quality_after: Duration("60s", "How long quality must stay low before alerting."),
    error_rate: T.Number({ default: 0.25, minimum: 0, maximum: 1, description: "Error rate over the metrics window that raises an alert." }),
    error_rate_min_requests: T.Integer({
      default: 5,
      minimum: 1,
      description: "Requests in the metrics window needed before the error rate counts (1 failure of 1 is not an alert).",
    }),
    tunnel_down_after: Duration("60s", "The tunnel disconnected this long raises an alert (when enabled)."),
    cooldown: Duration("5m", "After an alert clears, the same alert is not raised again within this time."),
  },
  { additionalProperties: false, default: {}, description: "Alert rules and desktop notifications." },
);

export const LoggingSchema = T.Object(
  {
    level: T.Union(LOG_LEVELS.map((l) => T.Literal(l)), { default: "info" }),
    requests: T.Boolean({
      default: true,
      description: "One line per finished request (status, method, path, model, upstream, time to first token, tokens/s, duration), as `ollama serve` prints them.",
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      "Logging to stderr. Under journald (JOURNAL_STREAM) lines keep sd-daemon priority prefixes (<6>info …); on a terminal they show the time, a coloured level (NO_COLOR turns colour off) and the component; otherwise (a pipe or file) plain lines start with an ISO time and the level.",
  },
);

export const AuthSchema = T.Object(
  {
    issuer: Url("", "OpenID Connect issuer for cloud sign-in; empty disables sign-in."),
    client_id: T.String({ default: "", description: "OAuth client id of this app at the issuer." }),
    audience: T.String({ default: "", description: "Audience requested for access tokens (the relay checks it)." }),
    scopes: T.Array(T.String(), {
      default: ["openid", "profile", "offline_access"],
      description: "Scopes requested at sign-in; offline_access is what gets a refresh token.",
    }),
    flow: T.Union([T.Literal("device"), T.Literal("pkce")], { default: "device", description: "Default sign-in flow." }),
    refresh_before: Duration("60s", "Refresh the access token this long before it expires."),
  },
  { additionalProperties: false, default: {}, description: "Cloud sign-in (OpenID Connect)." },
);

export const SecretsSchema = T.Object(
  {
    backend: T.Union([T.Literal("auto"), T.Literal("secret-service"), T.Literal("file")], {
      default: "auto",
      description: "auto: the desktop keyring when available, else a 0600 file under $XDG_STATE_HOME.",
    }),
  },
  { additionalProperties: false, default: {}, description: "Where secrets are kept." },
);

export const DashboardSchema = T.Object(
  {
    inspector_size: T.Integer({ default: 200, minimum: 0, maximum: 10000, description: "Requests kept in the request inspector." }),
    capture_bodies: T.Boolean({ default: false, description: "Keep request and response bodies in the inspector (privacy: off)." }),
    body_cap: T.Integer({ default: 4096, minimum: 0, description: "Bytes of each body kept when capture_bodies is on." }),
  },
  { additionalProperties: false, default: {}, description: "Dashboard and request inspector." },
);

export const TraySchema = T.Object(
  {
    enabled: T.Union([T.Literal("auto"), T.Literal("never")], {
      default: "auto",
      description:
        "auto: the daemon shows its status icon itself when there is a D-Bus session bus (registered with the panel's StatusNotifierWatcher whenever one runs); never: no icon (a headless machine, or the `tray` command runs elsewhere).",
    }),
  },
  { additionalProperties: false, default: {}, description: "The daemon's own tray icon (StatusNotifierItem) on the desktop's panel." },
);

export const AliasSchema = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 256, description: "The name apps send, e.g. gpt-4o-mini." }),
    model: T.String({ minLength: 1, maxLength: 256, description: "The model it stands for, e.g. llama3.2:3b." }),
    show: T.Boolean({ default: false, description: "List the alias in /api/tags and /v1/models beside the real models." }),
  },
  { additionalProperties: false },
);

export const ConfigSchema = T.Object(
  {
    api: ApiSchema,
    proxy: ProxySchema,
    upstreams: T.Array(UpstreamSchema, {
      default: [{ name: "local", kind: DEFAULT_KIND, url: KINDS[DEFAULT_KIND].defaultUrl }],
      description: "The servers the broker routes to.",
    }),
    aliases: T.Array(AliasSchema, {
      default: [],
      description: "Model names that stand for another model (apps that hard-code one reach a local model).",
    }),
    health: HealthSchema,
    quality: QualitySchema,
    metrics: MetricsSchema,
    tunnel: TunnelSchema,
    alerts: AlertsSchema,
    logging: LoggingSchema,
    auth: AuthSchema,
    secrets: SecretsSchema,
    dashboard: DashboardSchema,
    tray: TraySchema,
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type UpstreamConfig = Static<typeof UpstreamSchema>;
export type TunnelConfig = Static<typeof TunnelSchema>;
export type Section = keyof Config;
/** The config as components read it: durations in milliseconds, defaults applied (resolve.ts makes it once per load). */
export type ResolvedConfig = Resolved<typeof ConfigSchema>;
export type ResolvedUpstream = Resolved<typeof UpstreamSchema>;
export type { TSchema };

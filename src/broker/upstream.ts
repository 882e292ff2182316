// One upstream server as the broker sees it: its config, resolved auth, live state, model list and traffic metrics.
import { resolveBy } from "../config/resolve.ts";
import { CONFIG_SCHEMA } from "../config/config-check.generated.ts";
import type { Quality, UpstreamState, UpstreamStatus } from "../core/contracts.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import { cleartextSecretWarning, upstreamAuthValue } from "../config/upstream-auth.ts";
import { MetricsWindow } from "./metrics-window.ts";
import { listedName } from "../kinds/types.ts";
import { quality as judgeQuality } from "./quality.ts";
import { urlCredentialSecrets } from "../net/url-credentials.ts";
import { redactUrl } from "../net/redact-url.ts";
import { splitUpstreamUrl, withUpstreamQuery, type UpstreamUrl } from "../net/upstream-url.ts";
import { kindOf, type Capacity, type KindModule, type KindName } from "../kinds/index.ts";
import { upstreamTls, type TlsSetup, type UpstreamTls } from "../config/upstream-tls.ts";
import { logger } from "../core/log.ts";

const log = logger("broker");
/** NODE_TLS_REJECT_UNAUTHORIZED's warning is given once per process: it is about the environment, not one upstream. */
let envWarned = false;

/** The warnings of an upstream's TLS setup, when it is set up (start, or a change of its config). */
function warnTls(name: string, t: TlsSetup): void {
  if (t.tls?.rejectUnauthorized === false)
    log.warn("tls_insecure = true: this upstream's certificate is not verified; anyone on the path can read and change its traffic (set ca_file instead)", { upstream: name });
  if (t.envIgnored && !envWarned) {
    envWarned = true;
    log.warn("NODE_TLS_REJECT_UNAUTHORIZED=0 is ignored for upstreams: their certificates are still verified; set ca_file (a private CA, or the self-signed certificate) or tls_insecure = true on the upstream that needs it", { upstream: name });
  }
}

/** What the server last said of its load, and how many of our own requests were on it then. */
export interface ReportedLoad extends Capacity {
  /** Our requests in flight to it when the server said `busy`/`waiting` (they are among them). */
  ownAtReport: number;
  at: string;
  /** performance.now() of the report of busy/waiting. */
  atMs: number;
}

export class Upstream {
  readonly name: string;
  readonly kind: KindName;
  /** The kind's module: how it is probed and listed (src/kinds/). */
  readonly module: KindModule;
  /** Base URL without its query and trailing slash; request targets (withQuery's) are appended to it. */
  readonly base: string;
  /** The URL split for requests: its query is merged onto every one (src/net/upstream-url.ts). */
  readonly url: UpstreamUrl;
  readonly firstByteTimeoutMs: number;
  /** After the first byte, the longest silence a stream may keep (0: no limit). */
  readonly streamIdleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** The URL as shown in status and logs: credentials in it are never shown. */
  readonly displayUrl: string;
  /** The serialized config, to tell on reload whether this upstream changed. */
  readonly key: string;
  /** What its https calls trust (ca_file, tls_insecure; undefined for http://), and why none can be made (ca_file unreadable). */
  readonly tls: UpstreamTls | undefined;
  readonly tlsError: string | null;

  state: UpstreamState = "unknown";
  /** Not checked yet: judged as an upstream that has never answered (never "excellent"). */
  quality: Quality = judgeQuality("unknown", 0, null);
  version: string | null = null;
  /** Model names as the upstream lists them, and a lookup set that also knows "name" for "name:latest". */
  models: string[] = [];
  private modelSet = new Set<string>();
  lastCheck: string | null = null;
  lastError: string | null = null;
  consecutiveFailures = 0;
  /**
   * Requests on a route that runs the model that got no first byte within first_byte_timeout, in a row (any that got
   * one resets it): at failures_before_down the health checks keep the upstream down, however well its probes answer.
   */
  firstByteTimeouts = 0;
  /** performance.now() when the streak took it down: after down_interval it is let back on probation. */
  demotedAt = 0;
  /** Exponentially weighted time to first byte (ms): the router's "lowest recent latency" tie-breaker. */
  ewmaMs: number | null = null;
  /** The auth header value from the secret store (null: none); refreshed by the health monitor. */
  authValue: string | null = null;
  /**
   * The operator's credential written into the URL's userinfo (`https://user:pass@host`), in the spellings an upstream
   * may quote it back (src/net/url-credentials.ts); empty for none. HTTP clients send it as `Authorization: Basic …`,
   * so it is the operator's credential as much as auth_secret is: account headers go, error answers are redacted.
   */
  readonly urlSecrets: readonly string[];
  private traffic = false;
  /** Called when traffic first marks this upstream dirty: the broker's one evaluation timer is armed then, so an idle
   *  broker has no timer waking it every second (docs/performance.md, idle CPU). */
  onDirty: (() => void) | null = null;
  /** Set by traffic since the last quality evaluation. */
  get dirty(): boolean {
    return this.traffic;
  }
  set dirty(v: boolean) {
    if (v && !this.traffic) this.onDirty?.();
    this.traffic = v;
  }
  retired = false;

  constructor(
    readonly config: UpstreamConfig,
    windowMs: number,
  ) {
    this.name = config.name;
    this.kind = config.kind;
    this.module = kindOf(config.kind);
    this.url = splitUpstreamUrl(config.url);
    this.base = this.url.base;
    this.urlSecrets = urlCredentialSecrets(config.url);
    const ms = resolveBy(CONFIG_SCHEMA.properties.upstreams.items, config);
    this.firstByteTimeoutMs = ms.first_byte_timeout;
    this.streamIdleTimeoutMs = ms.stream_idle_timeout;
    this.connectTimeoutMs = ms.connect_timeout;
    this.key = JSON.stringify(config);
    // The configured URL as written (query and fragment included), its secrets hidden.
    this.displayUrl = redactUrl(config.url.replace(/\/+$/, ""));
    const t = upstreamTls(config);
    this.tls = t.tls;
    this.tlsError = t.error;
    warnTls(config.name, t);
    // Once per setup (start, or a reload that changes this upstream), never per request or health check.
    const cleartext = cleartextSecretWarning(config);
    if (cleartext) log.warn(cleartext, { upstream: config.name, host: new URL(config.url).host });
    this.metrics = new MetricsWindow(windowMs);
  }

  metrics: MetricsWindow;

  /** A request target (path and query) as sent here: with the query of the configured URL merged on. */
  withQuery(target: string): string {
    return this.url.query === "" ? target : withUpstreamQuery(target, this.url);
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Requests it serves at once (0 = no limit); the broker's gate holds the rest. */
  get maxParallel(): number {
    return this.config.max_parallel;
  }

  /** Up or degraded: serves traffic. */
  get usable(): boolean {
    return this.state === "up" || this.state === "degraded";
  }

  /** The names it lists (those listedName takes: a hostile upstream's escape sequences never reach a terminal). */
  setModels(listed: string[]): void {
    const names = listed.filter(listedName);
    this.models = names;
    const set = new Set<string>();
    for (const n of names) {
      set.add(n);
      if (n.endsWith(":latest")) set.add(n.slice(0, -7));
    }
    this.modelSet = set;
  }

  /** Models the upstream has in memory now (read with each health check, as its kind says: Ollama's /api/ps, …). */
  private loadedSet = new Set<string>();
  loaded: string[] = [];
  setLoaded(listed: string[]): void {
    const names = listed.filter(listedName);
    this.loaded = names;
    const set = new Set<string>();
    for (const n of names) {
      set.add(n);
      if (n.endsWith(":latest")) set.add(n.slice(0, -7));
    }
    this.loadedSet = set;
  }
  /** Whether this model is loaded (warm): a request for it starts without the load. */
  warm(model: string): boolean {
    return this.loadedSet.has(model) || this.loadedSet.has(`${model}:latest`);
  }

  /** Our requests in flight to this upstream now (the broker's gate counts them); 0 until the broker wires it. */
  inFlight: () => number = () => 0;

  /** The load the server last reported (null: it reports none, or not yet). */
  capacity: ReportedLoad | null = null;
  /**
   * How long a report of busy/waiting counts (the health monitor sets a few check intervals): a server that stopped
   * reporting its load (restarted with --no-slots, metrics off) is not held to its last figures.
   */
  loadTtlMs = Number.POSITIVE_INFINITY;

  /**
   * Merges what one read said of the load (a kind may tell slots and busy in separate reads). Our own requests among
   * the reported ones: the more of those in flight when the read was sent (`ownBefore`) and now, so that one of ours
   * ending meanwhile is never taken for another client's load (which would hold a free upstream back a whole interval).
   */
  setCapacity(c: Partial<Capacity>, ownBefore = 0): void {
    const prev = this.capacity;
    const own = Math.max(ownBefore, this.inFlight());
    const fresh = c.busy !== undefined || c.waiting !== undefined;
    this.capacity = {
      slots: c.slots !== undefined ? c.slots : (prev?.slots ?? null),
      busy: c.busy !== undefined ? c.busy : (prev?.busy ?? null),
      waiting: c.waiting !== undefined ? c.waiting : (prev?.waiting ?? null),
      ownAtReport: fresh ? own : (prev?.ownAtReport ?? 0),
      at: new Date().toISOString(),
      atMs: fresh ? performance.now() : (prev?.atMs ?? performance.now()),
    };
  }

  /**
   * How loaded it is now, for the router: 0 when it has a free slot or says nothing of its load; above 0 when it is
   * full, growing with the queue per slot. Between health checks the reported figures are brought up to date with our
   * own requests: others' load is what it reported minus ours then, and ours is counted now.
   */
  pressure(): number {
    const c = this.capacity;
    if (!c) return 0;
    const own = this.inFlight();
    // A stale report tells nothing of others' load; the slot count still holds.
    const stale = performance.now() - c.atMs > this.loadTtlMs;
    const busy = stale ? null : c.busy;
    const waiting = stale ? null : c.waiting;
    const others = Math.max(0, (busy ?? 0) + (waiting ?? 0) - (busy === null && waiting === null ? 0 : c.ownAtReport));
    if (c.slots !== null && c.slots > 0) {
      const load = others + own;
      return load < c.slots ? 0 : (load - c.slots + 1) / c.slots;
    }
    // No slot count (vLLM): a queue of its own means it is full; our requests since the report join that queue.
    if (waiting !== null && waiting > 0) return (waiting + Math.max(0, own - c.ownAtReport)) / Math.max(1, busy ?? 1);
    return 0;
  }

  /** Whether the model list names this model ("llama3" matches "llama3:latest"). */
  serves(model: string): boolean {
    return this.modelSet.has(model) || this.modelSet.has(`${model}:latest`);
  }

  noteLatency(ms: number): void {
    this.ewmaMs = this.ewmaMs === null ? ms : this.ewmaMs * 0.8 + ms * 0.2;
  }

  setAuth(secret: string | null): void {
    this.authValue = secret ? upstreamAuthValue(this.config, secret) : null;
  }

  status(): UpstreamStatus {
    return {
      name: this.name,
      kind: this.kind,
      url: this.displayUrl,
      enabled: this.enabled,
      priority: this.config.priority,
      state: this.state,
      quality: this.quality,
      version: this.version,
      models: this.models,
      loaded: this.loaded,
      capacity: this.capacity && { slots: this.capacity.slots, busy: this.capacity.busy, waiting: this.capacity.waiting, at: this.capacity.at },
      inFlight: this.inFlight(),
      lastCheck: this.lastCheck,
      lastError: this.lastError,
      metrics: this.metrics.snapshot(),
    };
  }
}

// One upstream server as the broker sees it: its config, resolved auth, live state, model list and traffic metrics.
import { resolveBy } from "../config/resolve.ts";
import { UpstreamSchema } from "../config/schema.ts";
import type { Quality, UpstreamState, UpstreamStatus } from "../core/contracts.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import { MetricsWindow } from "./metrics-window.ts";
import { quality as judgeQuality } from "./quality.ts";
import { redactUrl } from "../net/redact-url.ts";

export class Upstream {
  readonly name: string;
  readonly kind: "ollama" | "openai";
  /** Base URL without a trailing slash; request paths are appended to it. */
  readonly base: string;
  readonly firstByteTimeoutMs: number;
  /** After the first byte, the longest silence a stream may keep (0: no limit). */
  readonly streamIdleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** The URL as shown in status and logs: credentials in it are never shown. */
  readonly displayUrl: string;
  /** The serialized config, to tell on reload whether this upstream changed. */
  readonly key: string;

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
  /** Exponentially weighted time to first byte (ms): the router's "lowest recent latency" tie-breaker. */
  ewmaMs: number | null = null;
  /** The auth header value from the secret store (null: none); refreshed by the health monitor. */
  authValue: string | null = null;
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
    this.base = config.url.replace(/\/+$/, "");
    const ms = resolveBy(UpstreamSchema, config);
    this.firstByteTimeoutMs = ms.first_byte_timeout;
    this.streamIdleTimeoutMs = ms.stream_idle_timeout;
    this.connectTimeoutMs = ms.connect_timeout;
    this.key = JSON.stringify(config);
    this.displayUrl = redactUrl(this.base);
    this.metrics = new MetricsWindow(windowMs);
  }

  metrics: MetricsWindow;

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

  setModels(names: string[]): void {
    this.models = names;
    const set = new Set<string>();
    for (const n of names) {
      set.add(n);
      if (n.endsWith(":latest")) set.add(n.slice(0, -7));
    }
    this.modelSet = set;
  }

  /** Models the upstream has in memory now (Ollama's /api/ps, read with each health check). */
  private loadedSet = new Set<string>();
  setLoaded(names: string[]): void {
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

  /** Whether the model list names this model ("llama3" matches "llama3:latest"). */
  serves(model: string): boolean {
    return this.modelSet.has(model) || this.modelSet.has(`${model}:latest`);
  }

  noteLatency(ms: number): void {
    this.ewmaMs = this.ewmaMs === null ? ms : this.ewmaMs * 0.8 + ms * 0.2;
  }

  setAuth(secret: string | null): void {
    const scheme = this.config.auth_scheme;
    this.authValue = secret ? (scheme ? `${scheme} ${secret}` : secret) : null;
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
      lastCheck: this.lastCheck,
      lastError: this.lastError,
      metrics: this.metrics.snapshot(),
    };
  }
}

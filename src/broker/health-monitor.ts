// Periodic and on-demand health checks of one upstream, and the state machine unknown / up / degraded / down.
//
// The reads come from the upstream's kind (src/kinds/). A full success → up. A partial success (some of the kind's
// required reads answer: Ollama's version but not its model list, llama.cpp's model list while /health says loading) → degraded.
// A failure → degraded when it was up, down after `failures_before_down` consecutive failures. An upstream that has
// never answered goes down on its first failure: the threshold rides out blips of a working upstream, and there is
// none to ride out (an Ollama that is not running is reported down at start, not "unknown" for half a minute).
// Down upstreams are checked at the slower `down_interval` once they have answered at least once; until then at
// `interval`, as such an upstream is often still starting alongside the daemon.
import { resolveBy } from "../config/resolve.ts";
import { CONFIG_SCHEMA } from "../config/config-check.generated.ts";
import type { UpstreamState } from "../core/contracts.ts";
import type { Config } from "../config/schema.ts";
import { Upstream } from "./upstream.ts";
import { upstreamHeaders } from "./headers.ts";
import { describeFetchError } from "../net/fetch-error.ts";
import { boundedText } from "./bounded-body.ts";
import { observeHealthCheck } from "./prometheus.ts";
import type { Read, Reading } from "../kinds/index.ts";

export interface HealthSettings {
  intervalMs: number;
  downIntervalMs: number;
  timeoutMs: number;
  failuresBeforeDown: number;
}

export function healthSettings(c: Config["health"]): HealthSettings {
  const r = resolveBy(CONFIG_SCHEMA.properties.health, c);
  return {
    intervalMs: r.interval,
    downIntervalMs: r.down_interval,
    timeoutMs: r.timeout,
    failuresBeforeDown: c.failures_before_down,
  };
}

export interface HealthHooks {
  /** Called after every check (state may or may not have changed). */
  checked(u: Upstream, change: { from: UpstreamState; to: UpstreamState; reason?: string } | null): void;
  /** Resolves the upstream's auth secret before each check, so a rotated key is picked up. */
  refreshAuth(u: Upstream): Promise<void>;
  /**
   * The upstream's own fetch (its FetchSession), closed when a reload retires it: with the global fetch every upstream
   * a reload retired left its kept-alive check connections open for good (a server without an idle timeout, as
   * Ollama's, never closes them), three more descriptors per reload that changed an upstream. Default: fetch.
   */
  fetch?: typeof fetch;
}

/** One of a kind's reads: the body as JSON or text; a status other than 2xx is a failure naming path and status. */
async function get(f: typeof fetch, u: Upstream, read: Read, timeoutMs: number): Promise<unknown> {
  if (u.tlsError) throw new Error(u.tlsError);
  const res = await f(u.base + u.withQuery(read.path), {
    headers: upstreamHeaders(null, u),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: "manual",
    tls: u.tls,
  } as RequestInit);
  if (!res.ok) {
    void res.body?.cancel();
    throw new Error(`${read.path} answered ${res.status}`);
  }
  const text = await boundedText(res, `${read.path}'s answer`);
  return read.as === "json" ? JSON.parse(text) : text;
}

/** What one read told, written onto the upstream; `ownBefore`: our requests in flight when the read was sent. */
function note(u: Upstream, r: Reading, ownBefore: number): void {
  if (r.version !== undefined) u.version = r.version;
  if (r.models) u.setModels(r.models);
  if (r.loaded) u.setLoaded(r.loaded);
  if (r.capacity && Object.keys(r.capacity).length) u.setCapacity(r.capacity, ownBefore);
}

export class HealthMonitor {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Some check has succeeded (fully or partly) since this monitor started. */
  private answered = false;

  constructor(
    readonly upstream: Upstream,
    private settings: HealthSettings,
    private readonly hooks: HealthHooks,
  ) {}

  start(): void {
    this.stopped = false;
    void this.check();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  update(settings: HealthSettings): void {
    this.settings = settings;
    if (!this.stopped && !this.running) this.schedule();
  }

  /** Runs a check now (joining one already running). */
  check(): Promise<void> {
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.run().finally(() => {
      this.running = null;
      if (!this.stopped) this.schedule();
    });
    return this.running;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const ms = this.upstream.state === "down" && this.answered ? this.settings.downIntervalMs : this.settings.intervalMs;
    this.timer = setTimeout(() => void this.check(), ms);
    this.timer.unref?.();
  }

  private async run(): Promise<void> {
    const u = this.upstream;
    const timeoutMs = this.settings.timeoutMs;
    const f = this.hooks.fetch ?? fetch;
    await this.hooks.refreshAuth(u).catch(() => {});
    const t0 = performance.now();
    let next: UpstreamState;
    let reason: string | undefined;
    try {
      // The kind's reads (src/kinds/): the required ones are the probe; the optional ones (loaded models, load) are
      // read beside it, never holding it up (a server without the route, or slow to answer it, is judged by the probe).
      const reads = u.module.reads;
      const ownBefore = u.inFlight();
      // A load report outlives a few missed checks at most (the server may have stopped reporting it).
      u.loadTtlMs = 3 * Math.max(this.settings.intervalMs, this.settings.timeoutMs);
      for (const r of reads)
        if (!r.required)
          void get(f, u, r, timeoutMs)
            .then((body) => !u.retired && note(u, r.apply(body), ownBefore))
            .catch(() => {});
      const required = reads.filter((r) => r.required);
      const results = await Promise.allSettled(required.map(async (r) => r.apply(await get(f, u, r, timeoutMs))));
      const failed = results.filter((x): x is PromiseRejectedResult => x.status === "rejected");
      if (failed.length === results.length) throw failed[0]!.reason;
      for (const x of results) if (x.status === "fulfilled") note(u, x.value, ownBefore);
      if (failed.length) {
        next = "degraded";
        reason = describeFetchError(failed[0]!.reason);
      } else next = "up";
      // Its probes answer, but its generations do not start (first_byte_timeout, failures_before_down in a row).
      const streak = u.firstByteTimeouts;
      if (streak >= this.settings.failuresBeforeDown) {
        if (u.state === "down" && performance.now() - u.demotedAt >= this.settings.downIntervalMs) {
          // Down for down_interval: let back on probation (degraded), where one more timeout takes it down again.
          u.firstByteTimeouts = this.settings.failuresBeforeDown - 1;
          next = "degraded";
          reason = `on probation after ${streak} requests in a row got no first byte within first_byte_timeout (${u.config.first_byte_timeout}); one more takes it down again`;
        } else {
          if (u.state !== "down") u.demotedAt = performance.now();
          next = "down";
          reason = `${streak} requests in a row got no first byte within first_byte_timeout (${u.config.first_byte_timeout}): its probes answer, its generations do not start`;
        }
      }
      // Back from an outage (down, never answered, or degraded by a failed check): what failed meanwhile is not its quality.
      if (next === "up" && (u.state === "down" || u.state === "unknown" || (u.state === "degraded" && u.consecutiveFailures > 0))) u.metrics.forgetErrors();
      u.consecutiveFailures = 0;
      this.answered = true;
      const ms = performance.now() - t0;
      u.metrics.recordHealth(ms);
      observeHealthCheck(u.name, ms / 1000);
      u.lastError = reason ?? null;
    } catch (e) {
      reason = describeFetchError(e);
      u.lastError = reason;
      u.consecutiveFailures++;
      if (u.state === "unknown" || u.state === "down" || u.consecutiveFailures >= this.settings.failuresBeforeDown) next = "down";
      else next = "degraded";
    }
    u.lastCheck = new Date().toISOString();
    if (this.stopped || u.retired) return;
    const from = u.state;
    u.state = next;
    this.hooks.checked(u, from === next ? null : { from, to: next, reason });
  }
}

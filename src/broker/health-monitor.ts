// Periodic and on-demand health checks of one upstream, and the state machine unknown / up / degraded / down.
//
// A full success → up. A partial success (ollama: version answers but the model list does not) → degraded.
// A failure → degraded when it was up, down after `failures_before_down` consecutive failures. An upstream that has
// never answered goes down on its first failure: the threshold rides out blips of a working upstream, and there is
// none to ride out (an Ollama that is not running is reported down at start, not "unknown" for half a minute).
// Down upstreams are checked at the slower `down_interval` once they have answered at least once; until then at
// `interval`, as such an upstream is often still starting alongside the daemon.
import { resolveBy } from "../config/resolve.ts";
import { HealthSchema } from "../config/schema.ts";
import type { UpstreamState } from "../core/contracts.ts";
import type { Config } from "../config/schema.ts";
import { Upstream } from "./upstream.ts";
import { upstreamHeaders } from "./headers.ts";
import { describeFetchError } from "./net-error.ts";
import { observeHealthCheck } from "./prometheus.ts";

export interface HealthSettings {
  intervalMs: number;
  downIntervalMs: number;
  timeoutMs: number;
  failuresBeforeDown: number;
}

export function healthSettings(c: Config["health"]): HealthSettings {
  const r = resolveBy(HealthSchema, c);
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
}

async function getJson(u: Upstream, path: string, timeoutMs: number): Promise<any> {
  const res = await fetch(u.base + path, {
    headers: upstreamHeaders(null, u),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: "manual",
  });
  if (!res.ok) {
    void res.body?.cancel();
    throw new Error(`${path} answered ${res.status}`);
  }
  return await res.json();
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
    await this.hooks.refreshAuth(u).catch(() => {});
    const t0 = performance.now();
    let next: UpstreamState;
    let reason: string | undefined;
    try {
      if (u.kind === "ollama") {
        // Which models are in memory, for warm-first routing: read beside the check, never holding it up (an upstream
        // without /api/ps, or slow to answer it, is judged by the check alone).
        void getJson(u, "/api/ps", timeoutMs)
          .then((ps) => {
            if (Array.isArray(ps?.models)) u.setLoaded(ps.models.map((m: { name?: string; model?: string }) => m.name ?? m.model).filter((n: unknown) => typeof n === "string"));
          })
          .catch(() => {});
        const [v, tags] = await Promise.allSettled([getJson(u, "/api/version", timeoutMs), getJson(u, "/api/tags", timeoutMs)]);
        if (v.status === "rejected" && tags.status === "rejected") throw v.reason;
        if (v.status === "fulfilled") u.version = typeof v.value?.version === "string" ? v.value.version : null;
        if (tags.status === "fulfilled") {
          const models = Array.isArray(tags.value?.models) ? tags.value.models : [];
          u.setModels(models.map((m: { name?: string; model?: string }) => m.name ?? m.model).filter((n: unknown) => typeof n === "string"));
        }
        if (v.status === "rejected" || tags.status === "rejected") {
          next = "degraded";
          reason = describeFetchError(v.status === "rejected" ? v.reason : (tags as PromiseRejectedResult).reason);
        } else next = "up";
        // Back from an outage (down, never answered, or degraded by a failed check): what failed meanwhile is not its quality.
        if (next === "up" && (u.state === "down" || u.state === "unknown" || (u.state === "degraded" && u.consecutiveFailures > 0))) u.metrics.forgetErrors();
      } else {
        const list = await getJson(u, "/v1/models", timeoutMs);
        const data = Array.isArray(list?.data) ? list.data : [];
        u.setModels(data.map((m: { id?: string }) => m.id).filter((n: unknown) => typeof n === "string"));
        if (u.state !== "up") u.metrics.forgetErrors();
        next = "up";
      }
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

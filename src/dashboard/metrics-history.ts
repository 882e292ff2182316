// Per-upstream metric history for the charts: one point per metrics tick, only the last 15 minutes kept.
import type { UpstreamMetrics } from "../../core/contracts.ts";

export const WINDOW_MS = 15 * 60_000;

export interface Point {
  t: number;
  p50: number | null;
  p95: number | null;
  rps: number;
  tps: number | null;
}

export class History {
  private readonly series = new Map<string, Point[]>();

  add(name: string, t: number, m: UpstreamMetrics): void {
    let pts = this.series.get(name);
    if (!pts) this.series.set(name, (pts = []));
    pts.push({ t, p50: m.latencyMs.p50, p95: m.latencyMs.p95, rps: m.requestsPerSec, tps: m.tokensPerSec });
    const cutoff = t - WINDOW_MS;
    let drop = 0;
    while (drop < pts.length && pts[drop]!.t < cutoff) drop++;
    if (drop) pts.splice(0, drop);
  }

  get(name: string): Point[] {
    return this.series.get(name) ?? [];
  }

  /** Forgets upstreams that are no longer configured. */
  retain(names: Set<string>): void {
    for (const k of [...this.series.keys()]) if (!names.has(k)) this.series.delete(k);
  }
}

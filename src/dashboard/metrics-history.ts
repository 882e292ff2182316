// Per-upstream metric history for the dashboard's charts (latency p50/p95, requests/s, tokens/s), only the last 15 minutes
// kept; the daemon samples it so a page opened now still sees the last 15 minutes, and the page extends it from live ticks.
import type { Point, UpstreamMetrics } from "../core/contracts.ts";

export const WINDOW_MS = 15 * 60_000;
/** A daemon sample this close to one of the page's own ticks (one a second) adds nothing. */
const NEAR_MS = 3000;

export type { Point } from "../core/contracts.ts";

export function pointOf(t: number, m: UpstreamMetrics): Point {
  return { t, p50: m.latencyMs.p50, p95: m.latencyMs.p95, rps: m.requestsPerSec, tps: m.tokensPerSec };
}

export class History {
  private readonly series = new Map<string, Point[]>();

  add(name: string, t: number, m: UpstreamMetrics): void {
    this.push(name, pointOf(t, m));
  }

  push(name: string, p: Point): void {
    let pts = this.series.get(name);
    if (!pts) this.series.set(name, (pts = []));
    pts.push(p);
    this.trim(pts, p.t);
  }

  /**
   * The daemon's samples put where the page has none: before its first tick, and in a gap (its feed cut, the laptop
   * asleep: after a reconnect the chart shows what happened meanwhile, not a straight line across it). The page's own
   * ticks win where both have data.
   */
  prefill(name: string, older: Point[]): void {
    const pts = this.series.get(name) ?? [];
    let i = 0;
    const fills = older.filter((p) => {
      while (i < pts.length && pts[i]!.t < p.t - NEAR_MS) i++;
      return !(i < pts.length && pts[i]!.t <= p.t + NEAR_MS);
    });
    const merged = [...fills, ...pts].sort((a, b) => a.t - b.t);
    this.series.set(name, merged);
    if (merged.length) this.trim(merged, merged[merged.length - 1]!.t);
  }

  get(name: string): Point[] {
    return this.series.get(name) ?? [];
  }

  all(): Record<string, Point[]> {
    return Object.fromEntries(this.series);
  }

  /** Forgets upstreams that are no longer configured. */
  retain(names: Set<string>): void {
    for (const k of [...this.series.keys()]) if (!names.has(k)) this.series.delete(k);
  }

  private trim(pts: Point[], now: number): void {
    const cutoff = now - WINDOW_MS;
    let drop = 0;
    while (drop < pts.length && pts[drop]!.t < cutoff) drop++;
    if (drop) pts.splice(0, drop);
  }
}

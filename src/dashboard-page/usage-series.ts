// The usage charts' data: GET /api/v1/usage rows folded into one bar per UTC day and one segment per key or model (pure).
import type { UsageRow } from "../core/contracts.ts";

export type UsageMeasure = "requests" | "tokens";
export type UsageGroup = "key" | "model";

export interface BarSeries {
  name: string;
  /** One value per day, in the order of the days given. */
  values: number[];
}

const DAY_MS = 86_400_000;

/** The last `n` UTC days up to the one holding `now`, oldest first, as the ledger names them (YYYY-MM-DD). */
export function lastDays(now: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => new Date(now - (n - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

export const MEASURES: Record<UsageMeasure, { unit: string; of: (r: UsageRow) => number }> = {
  requests: { unit: "requests", of: (r) => r.requests },
  tokens: { unit: "tokens", of: (r) => r.prompt_tokens + r.completion_tokens },
};

/** The name a row's segment goes under: the key (requests without one are "no key") or the model. */
const GROUPS: Record<UsageGroup, (r: UsageRow) => string> = {
  key: (r) => (r.key === "-" ? "no key" : r.key),
  model: (r) => r.model || "(none)",
};

/**
 * Sums `measure` per day and key (or model); the largest `maxSeries - 1` series keep their names and the rest are summed
 * as "other", so the chart stays readable with many keys. Series are ordered largest first; all-zero ones are dropped.
 */
export function usageSeries(rows: UsageRow[], group: UsageGroup, measure: UsageMeasure, days: string[], maxSeries = 6): BarSeries[] {
  const at = new Map(days.map((d, i) => [d, i]));
  const sums = new Map<string, number[]>();
  for (const r of rows) {
    const i = at.get(r.day);
    if (i === undefined) continue;
    const name = GROUPS[group](r);
    let v = sums.get(name);
    if (!v) sums.set(name, (v = days.map(() => 0)));
    v[i]! += MEASURES[measure].of(r);
  }
  const total = (v: number[]) => v.reduce((a, b) => a + b, 0);
  const all = [...sums].map(([name, values]) => ({ name, values })).filter((s) => total(s.values) > 0);
  all.sort((a, b) => total(b.values) - total(a.values) || (a.name < b.name ? -1 : 1));
  if (all.length <= maxSeries) return all;
  const kept = all.slice(0, maxSeries - 1);
  const other = days.map((_, i) => all.slice(maxSeries - 1).reduce((a, s) => a + s.values[i]!, 0));
  return [...kept, { name: "other", values: other }];
}

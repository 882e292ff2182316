// Counts the broker's own refusals (a bad or missing key, a model off the key's list, a rate or budget, a bad body, a
// full queue) by error code: they never reach an upstream, so the per-upstream series do not see them.
import { FastCounter, type CounterChild } from "../core/fast-metrics.ts";
import { HttpError } from "../core/http-error.ts";
import { metricsRegistry } from "../core/metrics-registry.ts";

const refused = new FastCounter({
  registry: metricsRegistry,
  name: "c2l_refused_total",
  help: "Requests the broker refused itself, before any upstream answered, by error code (unauthorized, forbidden, rate_limited, bad_request, ...).",
  labelNames: ["code"],
});
// One child per code, found without a label object (codes are the stable, bounded set of src/core/error-codes.ts).
const byCode = new Map<string, CounterChild>();

/** Counts `e` when it is a refusal the caller gets (an HttpError); anything else is not ours to count. */
export function countRefusal(e: unknown): void {
  if (!(e instanceof HttpError)) return;
  let c = byCode.get(e.code);
  if (!c) byCode.set(e.code, (c = refused.child({ code: e.code })));
  c.inc();
}

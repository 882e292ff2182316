// Picks the order in which upstreams are tried for one request: eligibility tiers, then the model already loaded
// (warm-first: no load time), then priority, then recent latency.
//
// Tiers, best first (disabled upstreams are never tried):
//   0  up or degraded, and serves the named model (or the request names none)
//   1  state unknown (not checked yet), and serves the model or has no list yet
//   2  up or degraded, but its model list does not name the model (lists can be stale; it answers 404 itself)
//   3  down (tried last: a health check may not have noticed a recovery yet)
import type { Upstream } from "./upstream.ts";

function tier(u: Upstream, model: string | null): number {
  if (u.state === "down") return 3;
  const serves = model === null || u.serves(model);
  if (u.state === "unknown") return serves || u.models.length === 0 ? 1 : 2;
  return serves ? 0 : 2;
}

export function routeOrder(upstreams: Iterable<Upstream>, model: string | null): Upstream[] {
  // The common setup, one upstream: nothing to order.
  if (Array.isArray(upstreams) && upstreams.length === 1) return upstreams[0]!.enabled ? [upstreams[0]!] : [];
  const list: { u: Upstream; t: number }[] = [];
  for (const u of upstreams) if (u.enabled) list.push({ u, t: tier(u, model) });
  list.sort(
    (a, b) =>
      a.t - b.t ||
      (model === null ? 0 : Number(b.u.warm(model)) - Number(a.u.warm(model))) ||
      a.u.config.priority - b.u.config.priority ||
      (a.u.ewmaMs ?? Number.MAX_VALUE) - (b.u.ewmaMs ?? Number.MAX_VALUE) ||
      (a.u.name < b.u.name ? -1 : 1),
  );
  return list.map((x) => x.u);
}

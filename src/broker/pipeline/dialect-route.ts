// Within the route stage: the request's dialect plan (dialects/plan.ts) and the order narrowed to the upstreams whose kind can take it.
import { servesNatively, type Dialect } from "../../kinds/index.ts";
import { dialectPlan, passedAsIs } from "../dialects/plan.ts";
import type { Exchange } from "../exchange.ts";
import type { Upstream } from "../upstream.ts";

/**
 * The upstreams of `order` that can answer the request's dialect (natively or translated), or the plan's own answer when
 * none can (count_tokens: the broker's estimate). Other routes keep their order.
 */
export function dialectRoute(ex: Exchange, order: readonly Upstream[]): readonly Upstream[] | Response {
  // The common case: Ollama's API, spelled as its route, in front of upstreams that all serve it. Their plan would send
  // the request as it is and hand the answer back as it is, so none is built (no objects per request on the hot path).
  const asIs = passedAsIs(ex.method, ex.route!);
  if (asIs !== null && order.length > 0 && ex.path === ex.route && allServe(order, asIs)) return order;
  const plan = dialectPlan(ex.method, ex.route!, { body: ex.payload instanceof Uint8Array ? ex.payload : null, requested: ex.aliasOf ?? ex.model, model: ex.model });
  if (plan === null) return order;
  ex.dialectPlan = plan;
  const takers = order.filter((u) => plan.takes(u.kind, u.version));
  if (takers.length > 0) return takers;
  const res = plan.none();
  ex.fail(res.status, res.ok ? null : `no enabled upstream serves ${ex.route}`);
  return res;
}

function allServe(order: readonly Upstream[], dialect: Dialect): boolean {
  for (let i = 0; i < order.length; i++) if (!servesNatively(order[i]!.kind, dialect)) return false;
  return true;
}

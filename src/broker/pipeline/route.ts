// Pipeline stage 3, route: the upstreams to try in order (router.ts, on the request's own table; sticky conversations
// first to their upstream), how many attempts failover may make, and whose turn it is in the queue.
import type { CallerClass } from "../../core/contracts.ts";
import { isModelManagement } from "../../core/model-routes.ts";
import type { Exchange } from "../exchange.ts";
import type { Claimant } from "../gate.ts";
import { conversationKey, routeOrder, stickyFirst } from "../router.ts";
import { errorAnswer } from "./answer-error.ts";
import { dialectRoute } from "./dialect-route.ts";

const bodyText = new TextDecoder();
function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(bodyText.decode(body));
  } catch {
    return null;
  }
}

/** The claimant of a request without a key, one per caller class (the gate only reads it): none made per request. */
const BY_CALLER: Record<CallerClass, Claimant> = {
  local: { bucket: "-local", keyLimit: 0, local: true },
  lan: { bucket: "-lan", keyLimit: 0, local: true },
  tunnel: { bucket: "-tunnel", keyLimit: 0, local: false },
};

/** Fills the Exchange's order, attempts and claimant; an error answer (recorded) when no upstream is enabled. */
export function route(ex: Exchange): Response | null {
  const table = ex.table!;
  const model = ex.model;
  // A key with a model list never reaches an upstream that would run another model than the one it names (router.ts).
  const keyList = (ex.admitted?.key?.models?.length ?? 0) > 0;
  let order = routeOrder(table.upstreams, model, keyList);
  const body = ex.payload;
  if (table.sticky && order.length > 1 && body instanceof Uint8Array) {
    const key = conversationKey(parseJson(body));
    if (key !== null) order = stickyFirst(order, model, key);
  }
  if (order.length === 0 && model !== null && table.upstreams.some((u) => u.enabled)) {
    // Every enabled upstream would run another model than the one named (router.ts): none has it.
    ex.fail(404, `model "${model}" not found`);
    return errorAnswer(ex, "not_found", `model "${model}" not found: no upstream lists it (a request of an API key with a model list is not sent to a server that would run its own model instead)`);
  }
  if (order.length === 0) {
    ex.fail(502, "no upstream is enabled");
    return errorAnswer(ex, "no_upstream", "no upstream is enabled in the broker's configuration");
  }
  // Anthropic Messages, count_tokens and Responses: only upstreams whose kind can take them (natively or translated).
  const takers = dialectRoute(ex, order);
  if (takers instanceof Response) return takers;
  order = takers;
  ex.order = order;
  // Model management (pull, delete, create, copy, push; the other kinds' load, unload, download) acts on the models of
  // the server it reaches: sent on after a failure it would act on another's (delete that one's copy, download again).
  ex.attempts = ex.retryable && order.length > 1 && !isModelManagement(ex.route!, ex.method) ? Math.min(order.length, table.maxAttempts) : 1;
  const key = ex.admitted?.key;
  // By the key's hash, not its name: a key made again under a revoked one's name does not inherit its queue (gate.ts).
  ex.claimant = key ? { bucket: key.hash, label: key.name, keyLimit: key.max_parallel ?? 0, expiresAt: key.expires_at, local: ex.caller !== "tunnel" } : BY_CALLER[ex.caller];
  return null;
}

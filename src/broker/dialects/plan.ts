// The dialect plan of a route, from one table: which client dialect a path speaks and how it reaches each kind of upstream.
import type { DialectPlan } from "./plan-types.ts";
import { countTokensPlan } from "./anthropic/count-tokens-plan.ts";
import { messagesPlan } from "./anthropic/messages-plan.ts";
import { responsesPlan } from "./responses/responses-plan.ts";

/** What the plan is built from: the body as read (null when it was too large to hold) and the model name the client sent. */
export interface PlanInput {
  body: Uint8Array | null;
  requested: string | null;
}

const PLANS: ReadonlyMap<string, (i: PlanInput) => DialectPlan> = new Map([
  ["/v1/messages", (i: PlanInput) => messagesPlan(i.requested)],
  ["/v1/messages/count_tokens", (i: PlanInput) => countTokensPlan(i.body)],
  ["/v1/responses", (i: PlanInput) => responsesPlan(i.requested)],
]);

/** The routes that have a plan (the tunnel's default allowed paths include them). */
export const DIALECT_ROUTES: readonly string[] = [...PLANS.keys()];

/** The plan for a POST to `route` (routeOf), or null: the request passes through as it is. */
export function dialectPlan(method: string, route: string, input: PlanInput): DialectPlan | null {
  if (method !== "POST") return null;
  return PLANS.get(route)?.(input) ?? null;
}

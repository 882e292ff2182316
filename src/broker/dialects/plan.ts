// The dialect plan of a route, from one table: which client dialect a path speaks and how it reaches each kind of upstream.
import type { Dialect } from "../../kinds/index.ts";
import type { DialectPlan } from "./plan-types.ts";
import { countTokensPlan } from "./anthropic/count-tokens-plan.ts";
import { messagesPlan } from "./anthropic/messages-plan.ts";
import { showPlan, versionPlan } from "./ollama/metadata-plan.ts";
import { embedPlan, generationPlan } from "./ollama/ollama-plan.ts";
import { responsesPlan } from "./responses/responses-plan.ts";

/**
 * What the plan is built from: the body as read (null when it was too large to hold), the model name the client sent
 * and the one the upstream is asked for (an alias resolved).
 */
export interface PlanInput {
  body: Uint8Array | null;
  requested: string | null;
  model: string | null;
}

/** The routes whose body the broker checks before anything else (body-check.ts): it reads them itself for every upstream. */
const CHECKED: ReadonlyMap<string, (i: PlanInput) => DialectPlan> = new Map([
  ["/v1/messages", (i: PlanInput) => messagesPlan(i.requested)],
  ["/v1/messages/count_tokens", (i: PlanInput) => countTokensPlan(i.body)],
  ["/v1/responses", (i: PlanInput) => responsesPlan(i.requested)],
]);

/**
 * Ollama's API: passed through as it is to an upstream that serves it (its body unchecked, Ollama answers it in its own
 * words), translated for one that does not (the translation refuses a body it cannot read, in Ollama's shape).
 */
const OLLAMA: ReadonlyMap<string, (i: PlanInput) => DialectPlan> = new Map([
  ["/api/chat", (i: PlanInput) => generationPlan("chat", i.requested)],
  ["/api/generate", (i: PlanInput) => generationPlan("generate", i.requested)],
  ["/api/embed", (i: PlanInput) => embedPlan("embed", i.requested)],
  ["/api/embeddings", (i: PlanInput) => embedPlan("embeddings", i.requested)],
  ["/api/show", (i: PlanInput) => showPlan(i.model, i.requested)],
]);

const PLANS = new Map([...CHECKED, ...OLLAMA]);

/** GET routes with a plan: Ollama's version, the broker's own when no upstream serves Ollama's API. */
const GET_PLANS: ReadonlyMap<string, () => DialectPlan> = new Map([["/api/version", versionPlan]]);

/** The routes whose body is checked before anything else (body-check.ts); the tunnel's default allowed paths include them. */
export const DIALECT_ROUTES: readonly string[] = [...CHECKED.keys()];

/**
 * The dialect of a route whose plan, for an upstream that serves that dialect, is to send the request exactly as it is
 * with no answer transform (Ollama's API: nothing is checked or counted on the way), or null. The route stage skips
 * building a plan when every upstream in the order serves it (dialect-route.ts): the common case costs no objects.
 */
export function passedAsIs(method: string, route: string): Dialect | null {
  if (method === "POST") return OLLAMA.has(route) ? "ollama" : null;
  if (method === "GET") return GET_PLANS.has(route) ? "ollama" : null;
  return null;
}

/** The plan for a request to `route` (routeOf), or null: the request passes through as it is. */
export function dialectPlan(method: string, route: string, input: PlanInput): DialectPlan | null {
  if (method === "GET") return GET_PLANS.get(route)?.() ?? null;
  if (method !== "POST") return null;
  return PLANS.get(route)?.(input) ?? null;
}

// Which routes a key with a daily token budget may use: the ones whose use the broker counts, and the ones that generate nothing.
import { isModelManagement } from "../core/model-routes.ts";
import { EMBEDDING_PATHS, GENERATION_PATHS } from "./exchange.ts";

/**
 * Routes taking a body that run no generation: Ollama's model details, the token counters and chat-template renderers
 * (Anthropic's count_tokens, llama.cpp's and vLLM's /tokenize and /detokenize, llama.cpp's /apply-template).
 */
const GENERATES_NOTHING = new Set(["/api/show", "/v1/messages/count_tokens", "/tokenize", "/detokenize", "/apply-template"]);

/**
 * Whether a key with a daily budget may call `route` with `method`: fail closed. Reads (GET, HEAD, OPTIONS) generate
 * nothing; any other request must be on a route the broker holds and counts (GENERATION_PATHS), counts
 * (EMBEDDING_PATHS), or knows generates nothing (model management, GENERATES_NOTHING). An upstream's own generation
 * routes (TGI's /generate, koboldcpp's /api/v1/generate, SGLang's /generate, vLLM's audio transcriptions) would
 * otherwise spend tokens the budget never sees.
 */
export function budgetCanCount(route: string, method: string): boolean {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return true;
  return GENERATION_PATHS.has(route) || EMBEDDING_PATHS.has(route) || GENERATES_NOTHING.has(route) || isModelManagement(route, method);
}

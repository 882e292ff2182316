// Which routes a key with a daily token budget may use: the ones whose use the broker counts, and the ones that generate nothing.
import { isModelManagement } from "../core/model-routes.ts";
import { EMBEDDING_PATHS, GENERATION_PATHS } from "./exchange.ts";

/**
 * Routes taking a body that run no generation: Ollama's model details, the token counters (Anthropic's count_tokens,
 * OpenAI's and llama.cpp's input_tokens of a Responses or chat body), chat-template renderers (llama.cpp's and
 * vLLM's /tokenize and /detokenize, llama.cpp's /apply-template) and llama.cpp's control of a running chat
 * completion (its only action ends the reasoning early: it shortens a generation the budget already holds).
 */
const GENERATES_NOTHING = new Set([
  "/api/show", "/v1/messages/count_tokens", "/v1/responses/input_tokens", "/v1/chat/completions/input_tokens",
  "/tokenize", "/detokenize", "/apply-template", "/v1/chat/completions/control",
]);

/** llama.cpp's `POST /slots/{id}?action=…`: each action saves, restores or erases the slot's prompt cache (its README), none generates. */
const SLOT_ROUTE = /^\/slots\/\d+$/;
const SLOT_ACTIONS: ReadonlySet<string> = new Set(["save", "restore", "erase"]);

/** A slot action, every `action` the query names being one of those (cpp-httplib decodes the query as URLSearchParams does). */
function slotAction(route: string, search: string): boolean {
  if (!SLOT_ROUTE.test(route)) return false;
  const actions = new URLSearchParams(search).getAll("action");
  return actions.length > 0 && actions.every((a) => SLOT_ACTIONS.has(a));
}

/**
 * Whether a key with a daily budget may call `route` with `method` (and the query `search`): fail closed. Reads (GET,
 * HEAD, OPTIONS) generate nothing; any other request must be on a route the broker holds and counts
 * (GENERATION_PATHS), counts (EMBEDDING_PATHS), or knows generates nothing (model management, GENERATES_NOTHING,
 * llama.cpp's slot actions). An upstream's own generation routes (TGI's /generate, koboldcpp's /api/v1/generate,
 * SGLang's /generate, vLLM's audio transcriptions) would otherwise spend tokens the budget never sees.
 */
export function budgetCanCount(route: string, method: string, search = ""): boolean {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return true;
  return GENERATION_PATHS.has(route) || EMBEDDING_PATHS.has(route) || GENERATES_NOTHING.has(route) || isModelManagement(route, method) || slotAction(route, search);
}

// Which events of each dialect's generation stream carry what the model wrote: the keys whose non-empty value makes an
// NDJSON line or SSE event one token for a stream cut short (usage.ts streamedTokens counts them).
//
// Why keys, not "every event": each dialect also streams events that carry no token (Anthropic's message_start,
// content_block_start, ping; the Responses API's response.created, response.in_progress, output_item.added; OpenAI's
// role-only first chunk, its finish and usage-only chunks; Ollama's done line), and counting those charged a key for
// tokens never generated. A key is found by a byte search, and it is a key only when a colon follows it: a token's
// text holds no unescaped quote, so it cannot spell one. Its value must be non-empty (not "", [], {} or null).

/** Each client dialect's content keys, the most frequent first (the search stops at the first one found in an event). */
const DIALECT_KEYS = {
  /** Ollama's /api/chat (message.content, thinking, tool_calls) and /api/generate (response, thinking); not the done line's "". */
  ollama: ["content", "response", "thinking", "tool_calls"],
  /**
   * OpenAI's chat and text completions (choices[].delta.content, reasoning_content or reasoning, tool_calls, refusal;
   * choices[].text), and llama.cpp's own /completion and /infill (content): not the role-only first chunk, the finish
   * chunk (`"delta": {}`) nor the usage-only one (`"choices": []`).
   */
  openai: ["content", "text", "reasoning_content", "reasoning", "tool_calls", "refusal"],
  /** Anthropic's Messages: content_block_delta's text_delta, thinking_delta and input_json_delta (an empty content_block_start's "" is none). */
  anthropic: ["text", "thinking", "partial_json"],
  /** The Responses API: every response.*.delta (output text, reasoning, function call arguments, refusal). */
  responses: ["delta"],
  /** LM Studio's own chat: message.delta and reasoning.delta. */
  lmstudio: ["content"],
} as const;

/** The dialect each generation route's stream is in, as the client gets it (a translated stream is in the route's dialect). */
const ROUTE_DIALECT: Record<string, keyof typeof DIALECT_KEYS> = {
  "/api/chat": "ollama",
  "/api/generate": "ollama",
  "/v1/chat/completions": "openai",
  "/v1/completions": "openai",
  "/chat/completions": "openai",
  "/completions": "openai",
  "/completion": "openai",
  "/infill": "openai",
  "/api/v0/chat/completions": "openai",
  "/api/v0/completions": "openai",
  "/v1/messages": "anthropic",
  "/v1/responses": "responses",
  "/api/v1/chat": "lmstudio",
};

const KEYS: ReadonlyMap<string, readonly Buffer[]> = new Map(
  Object.entries(ROUTE_DIALECT).map(([route, dialect]) => [route, DIALECT_KEYS[dialect].map((k) => Buffer.from(`"${k}"`))]),
);
const NONE: readonly Buffer[] = [];

/** The content keys of a generation route's stream (quoted, as bytes); none for a route that is not one. */
export function contentKeysOf(route: string): readonly Buffer[] {
  return KEYS.get(route) ?? NONE;
}

/** The generation routes the table knows (its test checks each generation route has an entry). */
export const CONTENT_ROUTES: ReadonlySet<string> = new Set(Object.keys(ROUTE_DIALECT));

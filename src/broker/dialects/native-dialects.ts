// Which dialects each upstream kind serves itself (its own documentation), so the broker passes them through rather than translating.
import type { DialectName } from "./plan-types.ts";

const NATIVE: Record<string, readonly DialectName[]> = {
  // Ollama 0.14 serves /v1/messages (docs.ollama.com/api/anthropic-compatibility) and /v1/responses; no count_tokens.
  ollama: ["anthropic-messages", "openai-responses"],
  // Any OpenAI-compatible server: chat completions only, as far as the broker can assume.
  openai: [],
  // llama.cpp's server: /v1/messages, /v1/messages/count_tokens and /v1/responses (tools/server/server.cpp routes).
  llamacpp: ["anthropic-messages", "anthropic-count-tokens", "openai-responses"],
  // vLLM's OpenAI-compatible server: /v1/responses, /v1/messages and its count_tokens.
  vllm: ["anthropic-messages", "anthropic-count-tokens", "openai-responses"],
  // LM Studio 0.4: /v1/responses and the Anthropic-compatible /v1/messages.
  lmstudio: ["anthropic-messages", "openai-responses"],
};

export function servesNatively(kind: string, dialect: DialectName): boolean {
  return NATIVE[kind]?.includes(dialect) ?? false;
}

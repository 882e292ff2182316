// Which field carries a translated request's generation limit for an upstream: max_tokens, or max_completion_tokens
// where the upstream's kind says its model refuses max_tokens (OpenAI's reasoning models).
import { kindOf, type KindName } from "../../kinds/index.ts";
import type { ChatRequest } from "./chat-types.ts";

/** The chat request with its limit under the field the upstream's kind reads for this model (the request itself when that is max_tokens). */
export function withLimitField(chat: ChatRequest, kind: KindName): ChatRequest {
  if (chat.max_tokens === undefined || kindOf(kind).limitField?.(chat.model) !== "max_completion_tokens") return chat;
  const { max_tokens, ...rest } = chat;
  return { ...rest, max_completion_tokens: max_tokens };
}

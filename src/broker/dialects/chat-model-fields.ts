// The fields a translated chat request carries for the upstream's kind and model: its generation limit under max_tokens,
// or max_completion_tokens where the model refuses max_tokens (OpenAI's reasoning models); reasoning_effort left out where
// the model refuses it (OpenAI's models that do not reason), and the sampling fields the model refuses (OpenAI's reasoning
// models: temperature, top_p, the penalties); a 400 for what it refuses that asks for something back (their logprobs).
import { HttpError } from "../../core/http-error.ts";
import { kindOf, type KindName } from "../../kinds/index.ts";
import type { ChatRequest } from "./chat-types.ts";

/**
 * The chat request as the upstream's kind takes it for this model: the fields the model refuses (reasoning_effort, the
 * sampling fields) left out, its limit under the field the model reads (the request itself when nothing changes);
 * throws a 400 naming what the model refuses that the client asked to get back (kind.refusedOutputs).
 */
export function withModelFields(chat: ChatRequest, kind: KindName): ChatRequest {
  const k = kindOf(kind);
  const refusedOutputs = k.refusedOutputs?.(chat.model);
  if (refusedOutputs?.length) {
    const asked = refusedOutputs.filter((f) => chat[f] !== undefined && chat[f] !== false);
    if (asked.length)
      throw new HttpError(
        "bad_request",
        `model ${JSON.stringify(chat.model)} does not return log probabilities: its server refuses ${asked.join(" and ")} for it (OpenAI's reasoning models do); ask without them (Ollama's logprobs and top_logprobs, the Responses API's include "message.output_text.logprobs" and top_logprobs)`,
      );
  }
  if (chat.reasoning_effort !== undefined && k.takesReasoningEffort?.(chat.model) === false) {
    const { reasoning_effort: _dropped, ...rest } = chat;
    chat = rest;
  }
  const refused = k.refusedSampling?.(chat.model);
  if (refused !== undefined && refused.some((f) => chat[f] !== undefined)) {
    const rest = { ...chat };
    for (const f of refused) delete rest[f];
    chat = rest;
  }
  if (chat.max_tokens === undefined || k.limitField?.(chat.model) !== "max_completion_tokens") return chat;
  const { max_tokens, ...rest } = chat;
  return { ...rest, max_completion_tokens: max_tokens };
}

// The plan for POST /v1/messages: passed through to an upstream that serves it, translated to chat completions for one that does not.
import { dialectError } from "../../../core/http-error.ts";
import { estimatePromptTokens } from "../../usage.ts";
import type { AnswerPlan, DialectAttempt, DialectPlan } from "../plan-types.ts";
import { servesNatively } from "../../../kinds/index.ts";
import { UsageWatcher } from "../usage-watcher.ts";
import { WholeBody } from "../whole-body.ts";
import { isSse, JSON_TYPE, requestToTranslate, wholeChatAnswer } from "../translated-answer.ts";
import { anthropicErrorFrom, fromChatResponse } from "./from-chat-response.ts";
import { AnthropicStreamTranslator } from "./stream-translator.ts";
import { toChatRequest } from "./to-chat-request.ts";
import { withModelFields } from "../chat-model-fields.ts";
import type { AnthropicRequest } from "./types.ts";

const enc = new TextEncoder();

/** A native upstream's error that is not in Anthropic's shape already (a proxy's text, another server's JSON) is put in it. */
function nativeErrorBody(status: number): WholeBody {
  return new WholeBody((text) => {
    try {
      if ((JSON.parse(text) as { type?: unknown })?.type === "error") return { text, usage: null };
    } catch {}
    return { text: JSON.stringify(anthropicErrorFrom(status, text)), usage: null };
  });
}

function nativeAnswer(status: number, contentType: string | null): AnswerPlan {
  if (status >= 400) return { transform: nativeErrorBody(status), contentType: JSON_TYPE };
  return { transform: isSse(contentType) ? new UsageWatcher("anthropic") : null, contentType: null };
}

/** `requested`: the model name the client sent, shown back to it in translated answers. */
export function messagesPlan(requested: string | null): DialectPlan {
  return {
    dialect: "anthropic-messages",
    takes: () => true,
    none: () => dialectError("/v1/messages", "no_upstream", "no upstream is enabled in the broker's configuration"),
    attempt(kind, target, sent, bodyLength, version = null): DialectAttempt {
      if (servesNatively(kind, "anthropic", version)) return { target, body: sent, bodyLength, translated: false, answer: nativeAnswer };
      const req = requestToTranslate<AnthropicRequest>(sent, "/v1/messages", "Anthropic's Messages API");
      const chat = withModelFields(toChatRequest(req), kind);
      const out = enc.encode(JSON.stringify(chat));
      const stops = chat.stop ?? [];
      const shown = requested ?? chat.model;
      return {
        target: "/v1/chat/completions",
        body: out,
        bodyLength: out.byteLength,
        translated: true,
        answer(status, contentType) {
          if (status >= 400) return { transform: new WholeBody((text) => ({ text: JSON.stringify(anthropicErrorFrom(status, text)), usage: null })), contentType: JSON_TYPE };
          if (isSse(contentType)) return { transform: new AnthropicStreamTranslator(shown, stops, estimatePromptTokens(bodyLength)), contentType: null };
          return wholeChatAnswer((res) => {
            const m = fromChatResponse(res, shown, stops);
            return { text: JSON.stringify(m), usage: { tokens: m.usage.output_tokens, promptTokens: m.usage.input_tokens, genMs: null } };
          });
        },
      };
    },
  };
}

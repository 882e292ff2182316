// The plan for POST /v1/responses (OpenAI's Responses API): passed through to an upstream that serves it, translated to
// chat completions for one that does not (stateless requests; one that needs OpenAI's stored state is a 400).
import { servesNatively } from "../../../kinds/index.ts";
import { dialectError, ERROR_CODES, errorBody, type ErrorCode } from "../../../core/http-error.ts";
import type { AnswerPlan, DialectPlan } from "../plan-types.ts";
import { UsageWatcher } from "../usage-watcher.ts";
import { WholeBody } from "../whole-body.ts";
import { isSse, JSON_TYPE, requestToTranslate, wholeChatAnswer } from "../translated-answer.ts";
import { fromChatResponse } from "./from-chat-response.ts";
import { ResponsesStreamTranslator } from "./stream-translator.ts";
import { toChatRequest } from "./to-chat-request.ts";
import { withModelFields } from "../chat-model-fields.ts";
import type { ResponsesRequest } from "./types.ts";

const enc = new TextEncoder();

function nativeAnswer(status: number, contentType: string | null): AnswerPlan {
  return { transform: status === 200 && isSse(contentType) ? new UsageWatcher("responses") : null, contentType: null };
}

/**
 * The stable code of an upstream's error status: the first code ERROR_CODES gives that status (401 unauthorized, 404
 * not_found, 429 rate_limited, …), other 4xx bad_request, 5xx upstream_error (the upstream's failure, whatever it was).
 */
const CODE_OF_STATUS = new Map<number, ErrorCode>();
for (const [code, status] of Object.entries(ERROR_CODES) as [ErrorCode, number][]) if (status < 500 && !CODE_OF_STATUS.has(status)) CODE_OF_STATUS.set(status, code);
const codeOf = (status: number): ErrorCode => (status >= 500 ? "upstream_error" : (CODE_OF_STATUS.get(status) ?? "bad_request"));

/** An upstream's error body in OpenAI's shape (the chat route's error is in it already; anything else is put in it by errorBody, with its status's type). */
function openAiErrorFrom(status: number): WholeBody {
  return new WholeBody((text) => {
    try {
      const j = JSON.parse(text) as { error?: unknown };
      if (j?.error && typeof j.error === "object") return { text, usage: null };
    } catch {}
    return { text: JSON.stringify(errorBody("openai", codeOf(status), text.trim() || `the upstream answered ${status}`, status)), usage: null };
  });
}

/** `requested`: the model name the client sent, shown back to it in translated answers. */
export function responsesPlan(requested: string | null): DialectPlan {
  return {
    dialect: "openai-responses",
    takes: () => true,
    none: () => dialectError("/v1/responses", "no_upstream", "no upstream is enabled in the broker's configuration"),
    attempt(kind, target, sent, bodyLength, version = null) {
      if (servesNatively(kind, "responses", version)) return { target, body: sent, bodyLength, translated: false, answer: nativeAnswer };
      const req = requestToTranslate<ResponsesRequest>(sent, "/v1/responses", "OpenAI's Responses API");
      const chat = withModelFields(toChatRequest(req), kind);
      const out = enc.encode(JSON.stringify(chat));
      const shown = requested ?? chat.model;
      return {
        target: "/v1/chat/completions",
        body: out,
        bodyLength: out.byteLength,
        translated: true,
        answer(status, contentType) {
          if (status >= 400) return { transform: openAiErrorFrom(status), contentType: JSON_TYPE };
          if (isSse(contentType)) return { transform: new ResponsesStreamTranslator(req, shown), contentType: null };
          return wholeChatAnswer((res) => {
            const r = fromChatResponse(res, req, shown);
            return { text: JSON.stringify(r), usage: { tokens: r.usage!.output_tokens, promptTokens: r.usage!.input_tokens, genMs: null } };
          });
        },
      };
    },
  };
}

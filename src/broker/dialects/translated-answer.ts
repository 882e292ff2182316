// What the translating dialect plans (Messages, Responses) share: the request read as a JSON object, and the upstream's whole chat completion rewritten.
import { HttpError, streamFormat } from "../../core/http-error.ts";
import { BUFFER_LIMIT } from "../request-body.ts";
import type { TokenUsage } from "../usage.ts";
import type { ChatResponse } from "./chat-types.ts";
import type { AnswerPlan } from "./plan-types.ts";
import { WholeBody } from "./whole-body.ts";

const dec = new TextDecoder();
export const JSON_TYPE = "application/json";

/** Whether an answer is an SSE stream, read from its content type as every stream is (http-error.ts streamFormat). */
export const isSse = (contentType: string | null): boolean => streamFormat(contentType) === "sse";

/**
 * The request body as the broker sends it (an alias already resolved in its "model"), parsed to be translated for an
 * upstream without `route`; a 413 when it was too large to hold (BUFFER_LIMIT), a 400 when it is not a JSON object (`api`'s).
 */
export function requestToTranslate<T>(body: Uint8Array | ReadableStream<Uint8Array> | null, route: string, api: string): T {
  if (!(body instanceof Uint8Array)) throw new HttpError("payload_too_large", `the request body is too large for the broker to translate for an upstream without ${route} (at most ${BUFFER_LIMIT / (1024 * 1024)} MiB)`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(body));
  } catch {}
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new HttpError("bad_request", `the request body must be a JSON object (${api})`);
  return v as T;
}

/** A whole (non-streamed) chat completion, rewritten by `rewrite` into the client's dialect with the usage it states. */
export function wholeChatAnswer(rewrite: (res: ChatResponse) => { text: string; usage: TokenUsage }): AnswerPlan {
  return {
    transform: new WholeBody((text) => {
      let res: ChatResponse;
      try {
        res = JSON.parse(text) as ChatResponse;
      } catch {
        // Read whole before the head is sent (TransformedReply.whole): the client gets a 502, not a 200 with an error in it.
        throw new HttpError("upstream_error", `the upstream's answer is not JSON: ${text.slice(0, 200)}`);
      }
      return rewrite(res);
    }),
    contentType: JSON_TYPE,
  };
}

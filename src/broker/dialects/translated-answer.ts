// What the translating dialect plans (Messages, Responses) share: the request read as a JSON object, and the upstream's whole chat completion rewritten.
import { HttpError } from "../../core/http-error.ts";
import type { TokenUsage } from "../usage.ts";
import type { ChatResponse } from "./chat-types.ts";
import type { AnswerPlan } from "./plan-types.ts";
import { WholeBody } from "./whole-body.ts";

const dec = new TextDecoder();
export const JSON_TYPE = "application/json";

export const isSse = (contentType: string | null): boolean => (contentType ?? "").includes("text/event-stream");

/** The request body as the broker sends it (an alias already resolved in its "model"), parsed; null when it is not a JSON object. */
export function parseObject<T>(body: Uint8Array): T | null {
  try {
    const v = JSON.parse(dec.decode(body)) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as T) : null;
  } catch {
    return null;
  }
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

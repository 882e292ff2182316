// The plan for POST /v1/messages/count_tokens: passed through to an upstream that counts itself, else the broker's estimate.
import { HttpError } from "../../../core/http-error.ts";
import type { DialectPlan } from "../plan-types.ts";
import { servesNatively } from "../native-dialects.ts";
import { estimateInputTokens } from "./count-tokens.ts";
import type { AnthropicRequest } from "./types.ts";

const dec = new TextDecoder();

export function countTokensPlan(body: Uint8Array | null): DialectPlan {
  return {
    dialect: "anthropic-count-tokens",
    takes: (kind) => servesNatively(kind, "anthropic-count-tokens"),
    attempt: (_kind, target, sent, bodyLength) => ({ target, body: sent, bodyLength, translated: false, answer: () => ({ transform: null, contentType: null }) }),
    none() {
      let req: AnthropicRequest;
      try {
        req = JSON.parse(dec.decode(body ?? new Uint8Array(0))) as AnthropicRequest;
      } catch {
        return new HttpError("bad_request", "the request body must be a JSON object (Anthropic's count_tokens)").toDialectResponse("/v1/messages/count_tokens");
      }
      try {
        return Response.json({ input_tokens: estimateInputTokens(req) }, { headers: { "x-c2l-estimate": "true" } });
      } catch (e) {
        if (e instanceof HttpError) return e.toDialectResponse("/v1/messages/count_tokens");
        throw e;
      }
    },
  };
}

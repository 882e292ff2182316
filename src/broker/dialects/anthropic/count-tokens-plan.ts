// The plan for POST /v1/messages/count_tokens: sent to an upstream that serves Messages (llama.cpp and vLLM count
// themselves); the broker's estimate when it has no such route (Ollama) or no upstream serves Messages at all.
import { servesNatively } from "../../../kinds/index.ts";
import { errorBody, HttpError } from "../../../core/http-error.ts";
import type { DialectPlan } from "../plan-types.ts";
import { WholeBody } from "../whole-body.ts";
import { estimateInputTokens } from "./count-tokens.ts";
import type { AnthropicRequest } from "./types.ts";

const dec = new TextDecoder();
const PATH = "/v1/messages/count_tokens";
/** An upstream's answers that mean "no such route here" (not "your request is wrong"). */
const NO_ROUTE = new Set([404, 405, 501]);

/** The estimate's answer: its status and JSON text (a 400 in Anthropic's shape for a body that is not a Messages request). */
function estimate(body: Uint8Array | null): { status: number; text: string } {
  try {
    const req = JSON.parse(dec.decode(body ?? new Uint8Array(0))) as AnthropicRequest;
    return { status: 200, text: JSON.stringify({ input_tokens: estimateInputTokens(req) }) };
  } catch (e) {
    const err = e instanceof HttpError ? e : new HttpError("bad_request", "the request body must be a JSON object (Anthropic's count_tokens)");
    return { status: err.status, text: JSON.stringify(errorBody("anthropic", err.code, err.message, err.status)) };
  }
}

/** Whether an upstream's 2xx answer is a count: a JSON object with a number `input_tokens`, as Anthropic's. */
function isCount(text: string): boolean {
  try {
    return typeof (JSON.parse(text) as { input_tokens?: unknown } | null)?.input_tokens === "number";
  } catch {
    return false;
  }
}

/** The estimate's text for an answer that was no count; the upstream's own text when the estimate cannot read the body (its status is sent already). */
function estimateOr(body: Uint8Array | null, upstream: string): string {
  const e = estimate(body);
  return e.status === 200 ? e.text : upstream;
}

export function countTokensPlan(body: Uint8Array | null): DialectPlan {
  return {
    dialect: "anthropic-count-tokens",
    takes: (kind, version = null) => servesNatively(kind, "anthropic", version),
    attempt: (_kind, target, sent, bodyLength) => ({
      target,
      body: sent,
      bodyLength,
      translated: false,
      answer(status) {
        if (status >= 200 && status < 300) {
          // LM Studio answers a route it lacks 200 {"error":"Unexpected endpoint or method. (…)"}: a success without a
          // count is no count, and the SDK would hand that error to its caller as one. The estimate answers instead.
          return { transform: new WholeBody((text) => ({ text: isCount(text) ? text : estimateOr(body, text), usage: null })), contentType: "application/json" };
        }
        if (!NO_ROUTE.has(status)) return { transform: null, contentType: null };
        const e = estimate(body);
        return { status: e.status, transform: new WholeBody(() => ({ text: e.text, usage: null })), contentType: "application/json" };
      },
    }),
    none() {
      const e = estimate(body);
      return new Response(e.text, { status: e.status, headers: { "content-type": "application/json" } });
    },
  };
}

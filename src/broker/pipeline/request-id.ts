// The response header that names a request's id in the caller's dialect, as the official SDKs read it: Anthropic's
// `request-id` (the @anthropic-ai/sdk's `_request_id`, and an APIError's requestID), OpenAI's `x-request-id` (the
// openai SDK's). Ollama's API has none. The id is the one the request's record carries (inspector, usage rows).
import type { Dialect } from "../../core/http-error.ts";
import type { Exchange } from "../exchange.ts";

const REQUEST_ID_HEADER: Record<Dialect, string | null> = {
  anthropic: "request-id",
  openai: "x-request-id",
  ollama: null,
  native: null,
};

/**
 * Names the request in `headers` when its dialect has a header for that. An upstream that speaks the dialect itself
 * (Anthropic's or OpenAI's own API behind the broker) already sent its id: that one is kept, as its support knows it.
 */
export function nameRequest(ex: Exchange, headers: Headers): void {
  const name = REQUEST_ID_HEADER[ex.dialect];
  if (name !== null && !headers.has(name)) headers.set(name, ex.requestId());
}

// Pipeline stage 2, admit: the key's model allowlist and rate now that the model is known (who is calling was checked
// before the body was read), and a hold on its daily token budget for a generation or embedding request.
import type { GatewayService } from "../../core/contracts.ts";
import { HttpError } from "../../core/http-error.ts";
import { BLOB_ROUTE, blobDigest } from "../../core/model-routes.ts";
import { BlobProof } from "../blob-proof.ts";
import { budgetCanCount } from "../budget-routes.ts";
import { EMBEDDING_PATHS, GENERATION_PATHS, type Exchange } from "../exchange.ts";
import { estimatePromptTokens } from "../usage.ts";
import { refusalAnswer } from "./answer-error.ts";

/** The request body's Content-Encoding when it is one the broker does not undo (anything but none or identity), else null. */
function bodyEncoding(headers: Headers | null): string | null {
  const ce = headers?.get("content-encoding")?.trim();
  return ce && ce.toLowerCase() !== "identity" ? ce : null;
}

/** What a budget key's hold reads of a body, by kind of route: a compressed body (415) hides it; none for other routes. */
const COMPRESSED_HOLD: Record<"generation" | "embedding" | "none", string | null> = {
  generation: "the generation limit",
  embedding: "the size of the input whose prompt tokens",
  none: null,
};

/** Null when the request may go on (its budget hold is on the Exchange); else the refusal, in the request's dialect. */
export function admit(ex: Exchange, gateway: GatewayService | undefined): Response | null {
  const admitted = ex.admitted;
  if (admitted) {
    const named = ex.named!;
    const route = ex.route!;
    try {
      // A key with a daily budget is kept off the routes whose use the broker cannot count (fail closed).
      if (admitted.key?.tokens_per_day && !budgetCanCount(route, ex.method, ex.search))
        throw new HttpError("forbidden", `the API key "${admitted.key.name}" has a daily token budget (--tokens-per-day), and the broker cannot count what ${ex.method} ${route} generates, so it is refused for this key; use a counted route (/api/chat, /api/generate, /v1/chat/completions, /v1/completions, /v1/messages, /v1/responses) or a key without a budget`);
      const request = { path: route, method: ex.method, others: named.others, opaque: named.opaque, complete: named.complete, cut: ex.bodyCut, encoding: bodyEncoding(ex.requestHeaders), blobs: named.blobs };
      gateway?.authorize(admitted, named.model === undefined ? undefined : ex.model, ex.aliasOf ?? undefined, request);
      // A compressed body cannot be read or measured: an upstream that inflates it would generate past the limit the
      // hold read, or embed more than its compressed size held.
      const held = admitted.key?.tokens_per_day && request.encoding !== null ? COMPRESSED_HOLD[EMBEDDING_PATHS.has(route) ? "embedding" : GENERATION_PATHS.has(route) ? "generation" : "none"] : null;
      if (held) throw new HttpError("unsupported_media_type", `the request body is sent with Content-Encoding: ${request.encoding}, which the broker does not decode, so it cannot read ${held} the API key "${admitted.key!.name}" holds of its daily budget; send it uncompressed`);
      // A generation request of a key with a daily budget holds an estimate of its use until that is counted (or is
      // refused while the key's requests in flight hold the rest); the Exchange gives it back when it ends. An
      // embedding holds its prompt, estimated from its size: else a key could embed in parallel far past its budget.
      if (admitted.key?.tokens_per_day && EMBEDDING_PATHS.has(route))
        ex.holdBudget(gateway?.reserve(admitted, null, estimatePromptTokens(ex.bytesIn), false) ?? null);
      else if (admitted.key?.tokens_per_day && GENERATION_PATHS.has(route)) {
        const body = ex.payload;
        // A body not held whole (over the buffer, or beyond the replay buffer while it is spent) streams on unread: a
        // limit after the part read (max_tokens at its end) would run unheld. 503 to retry when the buffer frees, else 413.
        if (body !== null && !(body instanceof Uint8Array)) {
          if (ex.bodyCut === "budget")
            throw new HttpError("unavailable", `the broker is holding as many request bodies as [proxy] replay_buffer allows, and the API key "${admitted.key.name}" has a daily token budget, so its body must be read whole to know the generation limit it holds; retry in a moment`).after(1);
          throw new HttpError("payload_too_large", `the request body is too large for the broker to read the generation limit the API key "${admitted.key.name}" holds of its daily budget`);
        }
        ex.holdBudget(gateway?.reserve(admitted, body instanceof Uint8Array ? body : null, estimatePromptTokens(ex.bytesIn)) ?? null);
      }
    } catch (e) {
      ex.discard();
      return refusalAnswer(ex, e);
    }
    // A key with a model list may build models only from blobs it uploaded: its upload is hashed as it passes, and the
    // blob is its own once the upstream took it and the bytes hash to the digest in the path (relay-answer.ts).
    if (admitted.key && admitted.key.models.length > 0 && ex.method === "POST" && route.startsWith(BLOB_ROUTE) && ex.payload instanceof ReadableStream) {
      const digest = blobDigest(route.slice(BLOB_ROUTE.length));
      if (digest !== null) {
        ex.blobProof = new BlobProof(ex.payload, digest);
        ex.payload = ex.blobProof.stream;
      }
    }
    ex.keyName = admitted.key?.name ?? null;
    ex.caller = admitted.caller;
    // Keyless callers too: a reload that makes a key needed ([proxy] require_key) refuses what they left in the queue.
    ex.gateway = gateway ?? null;
  }
  const capture = ex.table!.capture;
  const body = ex.payload;
  if (capture.enabled && body instanceof Uint8Array)
    ex.requestBody = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, capture.cap)).toString("utf8");
  return null;
}

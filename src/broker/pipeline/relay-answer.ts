// Pipeline stage 5, relay the answer: the accepted reply's head (with the broker's Server-Timing and queue position),
// then its body — read whole when it is small, else relayed as a stream by the Exchange (exchange.ts).
import { headOnlyMessage, type Exchange } from "../exchange.ts";
import { redactHeaders, redactingStream, redactsFor, redactUpstreamSecret } from "../error-redaction.ts";
import { decodedErrorReply, isEncoded } from "../encoded-error.ts";
import { describeFetchError } from "../../net/fetch-error.ts";
import type { UpstreamReply } from "../upstream-client.ts";
import { HttpError } from "../../core/http-error.ts";
import { clientClosed, errorAnswer, refusalAnswer } from "./answer-error.ts";
import { nameRequest } from "./request-id.ts";

/** Status and headers for the client; the reason phrase only when it is not Bun's own ("OK" costs a string copy). */
function responseInit(res: UpstreamReply, headers: HeadersInit): ResponseInit {
  return res.statusText === "" || (res.status === 200 && res.statusText === "OK")
    ? { status: res.status, headers }
    : { status: res.status, statusText: res.statusText, headers };
}

const NOT_QUEUED = `, queue;dur=${(0).toFixed(2)}`;

/** The client's response for the reply the attempt stage accepted: from here on it belongs to the client. */
export function relayAnswer(ex: Exchange, res: UpstreamReply): Response | Promise<Response> {
  if (ex.blobProof !== null) return afterProof(ex, res);
  ex.accept(res);
  const headers = res.clientHeaders();
  // An error answer may quote the credential the broker sent in its headers too (its body: below).
  if (res.status >= 400) redactHeaders(headers, ex.upstream);
  // What the broker added before the first upstream attempt (admission, aliases, routing), and time queued.
  const queued = ex.queued;
  const queueMs = queued?.waitedMs ?? 0;
  const broker = (ex.sentAt - ex.bodyRead - queueMs).toFixed(2);
  // Not queued (the common case): the constant tail, not one more number formatted per request.
  headers.set("server-timing", queued ? `broker;dur=${broker}, queue;dur=${queueMs.toFixed(2)}` : `broker;dur=${broker}${NOT_QUEUED}`);
  if (queued) headers.set("x-queue-position", String(queued.position));
  nameRequest(ex, headers);
  ex.responseHeaders = headers;
  // An error answer compressed although the broker asked for identity would carry a quoted secret past the redaction,
  // which reads bytes as they are: decoded first and relayed whole, or refused (encoded-error.ts).
  if (res.status >= 400 && res.hasBody && res.whole !== true && redactsFor(ex.upstream)) {
    const coding = res.header("content-encoding");
    if (isEncoded(coding)) {
      headers.delete("content-encoding");
      return relayWhole(ex, decodedErrorReply(res, coding, ex.upstream!.name), headers);
    }
  }
  if (res.whole === true || ex.isSmall(res)) {
    // Arrived complete with its head (most small answers): answered at once, without an async frame.
    const now = res.bytesNow?.() ?? null;
    if (now !== null) return wholeAnswer(ex, res, headers, now);
    return relayWhole(ex, res, headers);
  }
  // A HEAD answer declares the length a GET would get (RFC 9110 §9.3.2): without it Bun sends "content-length: 0".
  if (!res.hasBody && ex.method === "HEAD") headOnlyLength(res, headers);
  // A streamed error answer (chunked, SSE) may quote the credential too: redacted as it passes. Success streams are
  // relayed as they are (nothing added per chunk).
  if (res.status >= 400) ex.stripper = redactingStream(ex.upstream, ex.stripper);
  return new Response(ex.stream(res), responseInit(res, headers));
}

/**
 * A blob upload of a key with a model list: the answer waits until the whole body was hashed (Ollama answers an upload
 * of a blob it has before reading it), and the blob is the key's own when the upstream took it and the bytes hash to
 * the digest in the path (blob-proof.ts).
 */
async function afterProof(ex: Exchange, res: UpstreamReply): Promise<Response> {
  const proof = ex.blobProof!;
  ex.blobProof = null;
  if ((await proof.settle(res.status >= 200 && res.status < 300)) && ex.admitted !== null) ex.gateway?.grantBlob(ex.admitted, proof.digest);
  return relayAnswer(ex, res);
}

/** The upstream's Content-Length on an answer to HEAD (the framing headers are otherwise Bun's to set). */
function headOnlyLength(res: UpstreamReply, headers: Headers): void {
  const cl = res.header("content-length");
  if (cl !== null) headers.set("content-length", cl);
}

function wholeAnswer(ex: Exchange, res: UpstreamReply, headers: Headers, answer: Uint8Array): Response {
  // An error answer may quote the credential the broker sent (auth_secret): never shown to the caller, nor kept.
  const bytes = res.status >= 400 ? redactUpstreamSecret(answer, ex.upstream) : answer;
  ex.completeSmall(bytes);
  // Declared, as Bun's server would declare it anyway: a caller in the same process (the tunnel's agent) then knows the
  // answer is whole and small, and sends it as one message with nothing held for resume (http-over-stream.ts).
  if (bytes.byteLength) headers.set("content-length", String(bytes.byteLength));
  return new Response(bytes as Uint8Array<ArrayBuffer>, responseInit(res, headers));
}

/** A small, complete answer, read whole and sent as bytes. */
async function relayWhole(ex: Exchange, res: UpstreamReply, headers: Headers): Promise<Response> {
  let bytes: Uint8Array;
  try {
    bytes = await res.bytes();
  } catch (e) {
    if (ex.clientGone) {
      ex.finish(ex.goneBeforeAnswer());
      return clientClosed();
    }
    // An answer the broker could not make whole (too large to translate, not JSON): its own error, in the caller's dialect.
    if (e instanceof HttpError) {
      ex.status = e.status;
      ex.finish(e.message);
      return refusalAnswer(ex, e);
    }
    if (ex.stopReason !== null) {
      ex.status = 503;
      ex.finish(ex.stopReason);
      return errorAnswer(ex, "unavailable", ex.stopReason);
    }
    // The head came, the rest of the answer not within first_byte_timeout (the sweeper aborted the read).
    const late = ex.timedOut;
    const msg = late ? headOnlyMessage(ex.upstream?.name ?? "?", ex.upstream?.config.first_byte_timeout) : `upstream "${ex.upstream?.name}" broke off the response: ${describeFetchError(e)}`;
    ex.status = late ? 504 : 502;
    ex.finish(msg);
    return errorAnswer(ex, late ? "upstream_timeout" : "upstream_error", msg);
  }
  return wholeAnswer(ex, res, headers, bytes);
}

// HTTP over one tunnel stream: the relay sends a fetch Request through a stream (forward) and the agent answers one (serveStream).
import { HttpError } from "../core/http-error.ts";
import { HOP_BY_HOP } from "../net/hop-by-hop.ts";
import type { HeaderList, ResponseHead } from "./messages.ts";
import { unwatchFirstByte, watchFirstByte } from "./first-byte-deadlines.ts";
import type { AnswerResumes, HeldAnswer } from "./resumable-answer.ts";
import type { Session } from "./session.ts";
import { StreamError, type Stream } from "./stream.ts";

/** Never across the tunnel: hop-by-hop headers, and Host and Content-Length, which each side sets for itself. */
const NOT_ACROSS = new Set<string>([...HOP_BY_HOP, "host", "content-length"]);

/** The headers that cross the tunnel: hop-by-hop ones never do, `also` (lower-case names) neither. */
export function headerList(h: Headers, also: readonly string[] = []): HeaderList {
  const out: HeaderList = [];
  // Headers yields lower-case names.
  h.forEach((v, k) => {
    if (!NOT_ACROSS.has(k) && !also.includes(k)) out.push([k, v]);
  });
  return out;
}

/** Methods whose body Bun's server never hands over (req.body is null even with a Content-Length). */
const NO_BODY_METHODS = new Set(["GET", "HEAD", "TRACE"]);

/** What forward() needs of a request (a fetch Request fits). */
export type OutgoingRequest = Pick<Request, "method" | "headers" | "body"> & Partial<Pick<Request, "bytes">>;

/**
 * A body up to this size with a declared length crosses as one buffer on both sides: read whole, sent as DATA + END,
 * handed to the broker sized. Larger or unsized bodies stream (credit windows bound what is in flight).
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/** Relay side: sends a fetch Request through a new stream and resolves with the streamed Response once the head arrives. */
export async function forward(
  session: Session,
  req: OutgoingRequest,
  path: string,
  opts: {
    signal?: AbortSignal;
    firstByteTimeoutMs?: number;
    onStream?: (s: Stream) => void;
    maxBodyBytes?: number;
    onBodyTooLarge?: () => void;
    dropHeaders?: readonly string[];
    /** Answer headers (lower-case) the agent may not set: dropped as the answer's headers are built. */
    dropAnswerHeaders?: ReadonlySet<string>;
    /** The answer's body broke off after its head (reset, session gone): its last bytes, or null to fail the body. */
    onBreak?: (err: StreamError, head: ResponseHead, lastByte: number) => Uint8Array | null;
    /** The body of an answer that may be resumed (its head carries a resume token), or null to read it as any other. */
    resumable?: (s: Stream, head: ResponseHead) => ReadableStream<Uint8Array> | null;
  } = {},
): Promise<Response> {
  const headers = headerList(req.headers, opts.dropHeaders);
  // A small body with a declared length is read with bytes(), without asking for req.body first: for a Request that
  // makes Bun build a ReadableStream (and its source) the small path never reads. Any other request asks as before,
  // and so do the methods whose body Bun's server drops whatever their Content-Length says (req.body is null).
  const length = req.headers.get("content-length");
  const sized = length !== null && /^\d+$/.test(length) ? Number(length) : -1;
  const small = sized > 0 && sized <= SMALL_BODY_BYTES && !!req.bytes && !NO_BODY_METHODS.has(req.method);
  const body = small ? null : (req.body ?? null);
  // The declared length crosses too (the agent holds the body to it), so the far side knows a body's size up front.
  if (small || (body && sized >= 0)) headers.push(["content-length", length!]);
  const s = session.open({ method: req.method, path, headers });
  opts.onStream?.(s);
  const onAbort = () => s.reset("cancel", "the client went away");
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  // A broken or oversized upload resets the stream inside pump(); the response side then fails.
  if (!small && !body) s.end();
  else if (small) void sendWhole(s, req.bytes!(), opts.maxBodyBytes, opts.onBodyTooLarge);
  else void s.pump(body as ReadableStream<Uint8Array>, opts.maxBodyBytes, opts.onBodyTooLarge, true);
  // The first-byte clock starts once the upload is complete: a long upload is not a slow answer.
  const deadline = opts.firstByteTimeoutMs ? watchFirstByte(s, opts.firstByteTimeoutMs) : null;
  try {
    const head = await s.responseHead;
    if (deadline) unwatchFirstByte(deadline);
    const noBody = head.status === 204 || head.status === 304 || req.method === "HEAD";
    // One pass, no destructuring (an array pattern walks an iterator per header).
    const headers = new Headers();
    for (const h of head.headers) {
      const k = h[0].toLowerCase();
      if (!NOT_ACROSS.has(k) && !opts.dropAnswerHeaders?.has(k)) headers.append(k, h[1]);
      // A HEAD answer's length is what a GET would get (answer() sends it); Bun would declare "0" for the empty body.
      else if (k === "content-length" && noBody && req.method === "HEAD" && /^\d{1,15}$/.test(h[1])) headers.set(k, h[1]);
    }
    // An answer complete on arrival goes out sized in one write; one still coming streams.
    const onBreak = opts.onBreak;
    const body = noBody
      ? dropBody(s)
      : ((s.takeWhole() as Uint8Array<ArrayBuffer> | null) ?? (head.resume ? opts.resumable?.(s, head) : null) ?? s.directReadable(onBreak && ((e, last) => onBreak(e, head, last))));
    return new Response(body, { status: head.status, headers });
  } catch (e) {
    if (deadline) unwatchFirstByte(deadline);
    opts.signal?.removeEventListener("abort", onAbort);
    throw e;
  }
}

/**
 * An answer that has no body (HEAD, 204, 304) whose agent sent one anyway (a refusal's JSON, a listing answering HEAD):
 * its bytes are read and dropped, so the stream ends and frees its slot of the tunnel's max_streams. Unread, it stayed open.
 */
function dropBody(s: Stream): null {
  if (s.takeWhole() === null) void drain(s);
  return null;
}

async function drain(s: Stream): Promise<void> {
  try {
    while ((await s.next()) !== null);
  } catch {
    // Reset or its session gone: the stream is released either way.
  }
}

/** A small body read whole, then sent; a failed read or one over `limit` resets the stream like pump() does. */
async function sendWhole(s: Stream, bytes: Promise<Uint8Array>, limit = 0, onLimit?: () => void): Promise<boolean> {
  let body: Uint8Array;
  try {
    body = await bytes;
  } catch (e) {
    s.reset("cancel", e instanceof Error ? e.message : String(e));
    return false;
  }
  if (limit && body.length > limit) {
    onLimit?.();
    s.reset("refused", `body over ${limit} bytes`);
    return false;
  }
  return s.sendNow(body) ?? s.send(body);
}

/** Reads exactly `length` bytes of a stream's body into one buffer; more, or fewer before the end, throws. */
async function readExactly(s: Stream, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  let seen = 0;
  for (;;) {
    const value = await s.next();
    if (!value) break;
    if (seen + value.length > length) throw malformed(`the request body is longer than its declared ${length} bytes`);
    parts.push(value);
    seen += value.length;
  }
  if (seen !== length) throw malformed(`the request body ended after ${seen} of its declared ${length} bytes`);
  // Usually one DATA frame: its view of the received message is the body, no copy.
  if (parts.length === 1) return parts[0] as Uint8Array<ArrayBuffer>;
  return Buffer.concat(parts, length) as Uint8Array<ArrayBuffer>;
}

/**
 * A request the relay sent malformed (its head's length, or a body that differs from it): the stream is refused, as a
 * bad request from the peer, not counted as the agent's `internal` failure.
 */
function malformed(reason: string): StreamError {
  return new StreamError("refused", reason, false);
}

/**
 * A byte RFC 9110 allows in no header value (a control character but HTAB, or DEL), or a character a byte cannot hold.
 * Bun's Headers keeps the first kind, so the agent's upstream client would write them out as they came: Go's net/http
 * (Ollama) refuses them all, Bun's parser all but DEL (which a relay's client can therefore send), other servers read
 * them their own way. The second kind Bun's Headers refuses with an error that would be the agent's, not the caller's.
 */
const BAD_VALUE = /[\0-\x08\n-\x1f\x7f\u0100-\uffff]/;

/**
 * A head's content-length, -1 when absent; one that is not a plain number, or a second one, fails the stream. A header
 * value no upstream reads as sent (BAD_VALUE), checked in the same pass, is the caller's 400 (its body never read).
 */
function declaredLength(headers: HeaderList): number | HttpError {
  let value: string | null = null;
  for (const [k, v] of headers) {
    if (BAD_VALUE.test(v)) return new HttpError("bad_request", `the header ${JSON.stringify(k.slice(0, 64))} holds a control character or DEL (or a character beyond a byte), which no HTTP header value may hold; send it without`);
    if (k.length !== 14 || k.toLowerCase() !== "content-length") continue;
    if (value !== null || !/^\d{1,15}$/.test(v)) throw malformed("the request head has an invalid content-length");
    value = v;
  }
  return value === null ? -1 : Number(value);
}

/** How serveStream builds the one Request it hands on (the agent builds the broker's request directly, no copy). */
export interface ServeOptions {
  /** Scheme and authority of the request's URL (default "http://tunnel.invalid"). */
  origin?: string;
  /** The headers the request carries, from the head's. */
  headers?: (h: HeaderList) => [string, string][];
  /** The stream's session negotiated "resume": the answer is held there and outlives the session (resumable-answer.ts). */
  resume?: AnswerResumes;
}

/** Agent side: turns an incoming stream into a fetch Request, runs the handler and streams its Response back. */
export async function serveStream(s: Stream, handler: (req: Request, s: Stream) => Promise<Response>, o: ServeOptions = {}): Promise<void> {
  const head = s.requestHead!;
  // A held answer's request stops with the answer, not with the session: the upstream goes on while the relay resumes.
  const held = o.resume?.hold(s) ?? null;
  const signal = held ? held.signal : s.signal;
  let res: Response;
  try {
    const hasBody = head.method !== "GET" && head.method !== "HEAD";
    const declared = declaredLength(head.headers);
    if (declared instanceof HttpError) res = declared.toDialectResponse(head.path.split("?", 1)[0]!);
    else {
      // The relay is not trusted to send what it declared: a body that differs from its length fails rather than
      // reaching an upstream connection with bytes that belong to no request. A small one is read whole first.
      const body: BodyInit | null = !hasBody ? null : declared < 0 ? s.readable : declared <= SMALL_BODY_BYTES ? await readExactly(s, declared) : s.readableExactly(declared);
      const req = new Request(`${o.origin ?? "http://tunnel.invalid"}${head.path}`, {
        method: head.method,
        headers: o.headers ? o.headers(head.headers) : head.headers,
        body,
        signal,
        // fetch requires duplex for streamed bodies.
        duplex: "half",
      } as RequestInit);
      res = await handler(req, s);
    }
  } catch (e) {
    if (s.failure) return;
    s.reset(e instanceof StreamError && e.code === "refused" ? "refused" : "internal", e instanceof Error ? e.message : String(e));
    return;
  }
  if (head.method === "HEAD") await answerHead(s, held, res);
  else if (held) await answerHeld(held, res);
  else await answer(s, res);
  // Answered: a body the handler left unread (a refusal answers before reading it) must not hold the stream open.
  s.discardIncoming();
}

/**
 * An answer up to this size with a declared length (a stream:false answer, a listing) is read whole and sent as head,
 * DATA and END in one turn, no reader and no read loop: well under the session's batching limits, so the three frames
 * leave together in one BATCH (unless other streams' frames of the same turn fill it first).
 */
export const WHOLE_ANSWER_BYTES = 8 * 1024;

/** Whether `res` is a small answer with a declared length (whole-answer path). */
function isWholeAnswer(res: Response): boolean {
  if (!res.body) return false;
  const cl = res.headers.get("content-length");
  return cl !== null && cl.length <= 5 && Number(cl) <= WHOLE_ANSWER_BYTES;
}

/** A held answer's head and body (resumable-answer.ts sends them, across sessions). */
async function answerHeld(held: HeldAnswer, res: Response): Promise<void> {
  const head = { status: res.status, headers: headerList(res.headers) };
  if (!isWholeAnswer(res)) return held.answer(head, res.body as ReadableStream<Uint8Array> | null);
  let bytes: Uint8Array;
  try {
    bytes = await res.bytes();
  } catch {
    // Its body failed to read: the streamed path says why the same way as any other broken body.
    return held.answer(head, new ReadableStream({ start: (c) => c.error(new Error("the answer's body could not be read")) }));
  }
  return held.answerWhole(head, bytes);
}

/**
 * The answer to a HEAD: its head, with the length a GET would get (forward() declares it to the client), and no body.
 * A body sent anyway (a refusal's JSON, a listing) is left unread by an older relay, holding one of the tunnel's
 * max_streams for good.
 */
async function answerHead(s: Stream, held: HeldAnswer | null, res: Response): Promise<void> {
  const body = res.body ? await res.bytes().catch(() => null) : null;
  const headers = headerList(res.headers);
  const length = res.headers.get("content-length") ?? (body ? String(body.byteLength) : null);
  if (length !== null) headers.push(["content-length", length]);
  if (held) return held.answerWhole({ status: res.status, headers }, NO_BYTES);
  if (s.failure) return;
  try {
    s.respond({ status: res.status, headers });
  } catch (e) {
    s.reset("internal", e instanceof Error ? e.message : String(e));
    return;
  }
  s.end();
}

const NO_BYTES = new Uint8Array(0);

/** Streams a handler's Response back as the stream's answer. */
async function answer(s: Stream, res: Response): Promise<void> {
  if (s.failure) {
    res.body?.cancel().catch(() => {});
    return;
  }
  let whole: Uint8Array | null = null;
  if (isWholeAnswer(res)) {
    try {
      whole = await res.bytes();
    } catch (e) {
      s.reset("cancel", `the answer's body could not be read: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
  }
  try {
    s.respond({ status: res.status, headers: headerList(res.headers) });
  } catch (e) {
    // A head the relay would refuse (see encode()) fails this stream, not the session.
    if (!whole) res.body?.cancel().catch(() => {});
    s.reset("internal", e instanceof Error ? e.message : String(e));
    return;
  }
  if (whole) await s.send(whole);
  // pump() cancels the body when the stream is reset (client gone), which is what stops the upstream's work.
  else if (res.body) await s.pump(res.body as ReadableStream<Uint8Array>);
  else s.end();
}

// How the broker reads a request body before routing, whatever its framing (sized, chunked, close-delimited, a tunnel stream).
//
// Routing needs the model and failover needs a body it can send twice, so a body is read into memory up to
// BUFFER_LIMIT however it arrives: a Content-Length is never required (chunked uploads and tunnel streams carry
// none). Bytes beyond a body's first HEAD_BYTES are taken from the shared replay budget ([proxy] replay_buffer,
// replay-budget.ts). Only what cannot be held stays a stream: blob uploads (unread), and a body longer than the limit
// (declared so or found while reading), or than the budget can cover (its prefix is read, where the model is looked
// for, and sent first, then the rest, in a single attempt). One copy of the body is kept (HeldBytes).

import { unbounded, type ReplayBudget, type ReplayLease } from "./replay-budget.ts";

/** Request bodies up to this size are read into memory (routing by model, failover); base64 images fit easily. */
export const BUFFER_LIMIT = 32 * 1024 * 1024;

/**
 * A body's first bytes are always read, outside the budget: routing needs the model (clients send it first), and a
 * small body (most chat requests) then stays replayable however full the budget is. The bytes held outside the
 * budget are at most this much per request in flight (and the one chunk that crossed the bound).
 */
export const HEAD_BYTES = 64 * 1024;

export interface RoutingBody {
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** Whether the body can be sent again to another upstream (it is held in memory). */
  retryable: boolean;
  /** The part of the body that is in memory: where the model is looked for (the whole body when retryable). */
  head: Uint8Array | null;
  bytesIn: number;
  /** The length to declare upstream; -1 sends it chunked. */
  bodyLength: number;
  /** Gives the body's bytes back to the replay budget: once no attempt can follow (idempotent). */
  release(): void;
  /** Why the body was not read whole (null when it was): longer than the limit, or the replay budget was spent. */
  cut: "limit" | "budget" | null;
}

const noop = () => {};
/**
 * A safety net, not the way bytes are given back: a path that returns without calling release() would shrink the
 * budget for good; this gives them back once the body itself is collected (when they are surely no longer held).
 */
const forgotten = new FinalizationRegistry<ReplayLease>((lease) => lease.release());
const NONE: RoutingBody = { body: null, retryable: true, head: null, bytesIn: 0, bodyLength: -1, release: noop, cut: null };

/** NONE, already resolved: a request without a body costs no promise of its own. */
const NO_BODY: Promise<RoutingBody | null> = Promise.resolve(NONE);

/**
 * Reads `req`'s body for routing; null when the client went away while sending it (its bytes are given back).
 * Not async itself, and a small sized body is read without asking for `req.body` (Bun builds a ReadableStream for it):
 * the common request, a small JSON body with its Content-Length, costs one promise here (docs/performance.md).
 */
export function readRoutingBody(req: Request, path: string, limit = BUFFER_LIMIT, budget: ReplayBudget = unbounded()): Promise<RoutingBody | null> {
  const method = req.method;
  if (method === "GET" || method === "HEAD") return NO_BODY;
  const cl = req.headers.get("content-length");
  const declared = cl !== null && /^\d+$/.test(cl) ? Number(cl) : -1;
  // A declared length says whether there is a body; without one, Bun's own reading of the framing does.
  if (declared === 0 || (declared < 0 && !req.body)) return NO_BODY;
  if (path.startsWith("/api/blobs/")) return Promise.resolve({ body: req.body, retryable: false, head: null, bytesIn: Math.max(0, declared), bodyLength: declared, release: noop, cut: "limit" });
  if (declared > 0 && declared <= HEAD_BYTES) return req.bytes().then(wholeBody, gone);
  return readLeased(req, declared, limit, budget);
}

async function readLeased(req: Request, declared: number, limit: number, budget: ReplayBudget): Promise<RoutingBody | null> {
  const lease = budget.lease();
  // A declared length over the limit is read like a body without one: its prefix (the model) is held, then the rest
  // streams after it, sized, in a single attempt; streamed unread, it was routed as naming no model.
  const prepaid = declared >= 0 && declared <= limit && lease.take(declared - HEAD_BYTES) ? declared : HEAD_BYTES;
  const r = await readHeld(req.body!.getReader(), limit, lease, prepaid);
  if (r === null) {
    lease.release();
    return null;
  }
  if (lease.held > 0) forgotten.register(r.held, lease);
  if (r.rest) return { body: prefixed(r.next ? [r.held, r.next] : [r.held], r.rest), retryable: false, head: r.held, bytesIn: r.held.byteLength, bodyLength: declared, release: lease.release, cut: r.cut };
  return { body: r.held, retryable: true, head: r.held, bytesIn: r.held.byteLength, bodyLength: r.held.byteLength, release: lease.release, cut: null };
}

/** A small body read whole (it is held outside the replay budget: nothing to give back). */
function wholeBody(body: Uint8Array): RoutingBody {
  return { body, retryable: true, head: body, bytesIn: body.byteLength, bodyLength: body.byteLength, release: noop, cut: null };
}

/** The client went away while sending its body. */
const gone = (): null => null;

/** Room beyond the limit for the chunk that crosses it (it is held too: it was read). */
const CHUNK_SLACK = 4 * 1024 * 1024;

/**
 * The bytes read so far, kept once: small bodies as their chunks (one chunk is most bodies: no copy at all); past
 * HEAD_BYTES, one resizable buffer that grows in place as chunks are copied in (only its length is resident), so a large
 * body never exists as chunks and a joined copy at once.
 */
class HeldBytes {
  private chunks: Uint8Array[] = [];
  private buf: ArrayBuffer | null = null;
  size = 0;

  constructor(private readonly max: number) {}

  /** Appends a chunk; false when it does not fit the buffer's reserved room (the caller sends it after the held part). */
  push(chunk: Uint8Array): boolean {
    const n = chunk.byteLength;
    if (this.buf === null && this.size + n <= HEAD_BYTES) {
      this.chunks.push(chunk);
      this.size += n;
      return true;
    }
    if (this.buf === null) {
      if (this.size + n > this.max) return false;
      this.buf = new ArrayBuffer(this.size, { maxByteLength: this.max });
      let off = 0;
      for (const c of this.chunks) {
        new Uint8Array(this.buf, off, c.byteLength).set(c);
        off += c.byteLength;
      }
      this.chunks = [];
    }
    if (this.size + n > this.max) return false;
    this.buf.resize(this.size + n);
    new Uint8Array(this.buf, this.size, n).set(chunk);
    this.size += n;
    return true;
  }

  bytes(): Uint8Array {
    if (this.buf) return new Uint8Array(this.buf, 0, this.size);
    const c = this.chunks;
    return c.length === 1 ? c[0]! : Buffer.concat(c, this.size);
  }
}

/**
 * Reads chunks while they may be held: the first `free` bytes (HEAD_BYTES, or a sized body's length already charged)
 * without charge, then as far as `limit` and the lease allow. `rest` is the reader still holding the remainder when the
 * body turned out longer than that (after `next`, a chunk read but not held).
 */
async function readHeld(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
  lease: ReplayLease,
  free: number,
): Promise<{ held: Uint8Array; next: Uint8Array | null; rest: ReadableStreamDefaultReader<Uint8Array> | null; cut: "limit" | "budget" | null } | null> {
  const held = new HeldBytes(limit + CHUNK_SLACK);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!value || value.byteLength === 0) continue;
      const before = held.size;
      if (!held.push(value)) return { held: held.bytes(), next: value, rest: reader, cut: "limit" };
      // Only the part beyond the free bytes is charged to the budget.
      const charge = held.size - Math.max(before, free);
      // Longer than it can hold: what was read goes first, then the rest as it comes.
      if (held.size > limit) return { held: held.bytes(), next: null, rest: reader, cut: "limit" };
      if (charge > 0 && !lease.take(charge)) return { held: held.bytes(), next: null, rest: reader, cut: "budget" };
    }
  } catch {
    return null;
  }
  return { held: held.bytes(), next: null, rest: null, cut: null };
}

/** The parts already read, then whatever `reader` still yields; cancelling it cancels the client's body. */
function prefixed(parts: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const part = parts.shift();
      if (part) {
        c.enqueue(part);
        return;
      }
      const { done, value } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

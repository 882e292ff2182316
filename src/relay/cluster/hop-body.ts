// A request body across the node-to-node hop as authenticated frames, so it streams (no buffering) and every byte the
// owner passes on is proven first: each frame is `length (4 bytes) | data | tag (32 bytes)`, the tag an HMAC over the
// previous tag (the first: the request's signature) and the frame, and a frame of length 0 ends the body. A frame that
// was altered, reordered, moved to another request or cut off errors the stream before its data is used.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { CodeOf } from "../../core/error-codes.ts";

const TAG = 32;
/** Larger chunks are split, so the owner never holds more than this to check one frame. */
export const MAX_FRAME = 1 << 20;

function tag(key: Uint8Array, prev: Uint8Array, data: Uint8Array): Uint8Array {
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, data.length);
  return new Uint8Array(createHmac("sha256", key).update(prev).update(len).update(data).digest());
}

function frame(key: Uint8Array, prev: Uint8Array, data: Uint8Array): { bytes: Uint8Array; tag: Uint8Array } {
  const t = tag(key, prev, data);
  const out = new Uint8Array(4 + data.length + TAG);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(data, 4);
  out.set(t, 4 + data.length);
  return { bytes: out, tag: t };
}

/** The sender's side: `body` as frames chained to `signature` (pulled as the hop's socket takes them). */
export function encodeHopBody(body: ReadableStream<Uint8Array> | null, key: Uint8Array, signature: Uint8Array): ReadableStream<Uint8Array> {
  const reader = body?.getReader();
  let prev = signature;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (done) return;
      const r = reader ? await reader.read() : { done: true as const, value: undefined };
      if (r.done) {
        done = true;
        c.enqueue(frame(key, prev, new Uint8Array(0)).bytes);
        c.close();
        return;
      }
      for (let i = 0; i < r.value.length; i += MAX_FRAME) {
        const f = frame(key, prev, r.value.subarray(i, i + MAX_FRAME));
        prev = f.tag;
        c.enqueue(f.bytes);
      }
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  });
}

/** A whole small body (at most MAX_FRAME bytes) as its frames in one buffer: no stream on either side. */
export function encodeHopBytes(data: Uint8Array, key: Uint8Array, signature: Uint8Array): Uint8Array {
  if (data.length > MAX_FRAME) throw new RangeError(`a body over ${MAX_FRAME} bytes is sent as a stream`);
  const first = data.length ? frame(key, signature, data) : null;
  const end = frame(key, first?.tag ?? signature, new Uint8Array(0)).bytes;
  if (!first) return end;
  const out = new Uint8Array(first.bytes.length + end.length);
  out.set(first.bytes);
  out.set(end, first.bytes.length);
  return out;
}

/** The longest framed form of a body that encodeHopBytes sends (one data frame and the end frame). */
export const MAX_HOP_BYTES = MAX_FRAME + 2 * (4 + TAG);

/** The owner's side for a body that arrived whole: its data once every frame verified (else HopBodyError). */
export function decodeHopBytes(bytes: Uint8Array, key: Uint8Array, signature: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let prev = signature;
  let at = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (;;) {
    if (at + 4 > bytes.length) throw new HopBodyError("the forwarded request body was refused: it ended before its final frame (cut off)");
    const len = view.getUint32(at);
    if (len > MAX_FRAME) throw new HopBodyError(`the forwarded request body was refused: a frame of ${len} bytes is over ${MAX_FRAME}`);
    if (at + 4 + len + TAG > bytes.length) throw new HopBodyError("the forwarded request body was refused: it ended before its final frame (cut off)");
    const data = bytes.subarray(at + 4, at + 4 + len);
    const want = tag(key, prev, data);
    if (!timingSafeEqual(want, bytes.subarray(at + 4 + len, at + 4 + len + TAG)))
      throw new HopBodyError("the forwarded request body was refused: a frame does not carry its signature (altered, reordered or from another request)");
    prev = want;
    at += 4 + len + TAG;
    if (len === 0) break;
    parts.push(data);
  }
  if (at !== bytes.length) throw new HopBodyError("the forwarded request body was refused: bytes after the final frame");
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
}

/** Bytes received, read out in exact amounts without copying more than a frame spanning chunks needs. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;

  push(b: Uint8Array): void {
    if (b.length) this.chunks.push(b), (this.length += b.length);
  }

  take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - at);
        out.set(c.subarray(0, k), at);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.length -= n;
    return out;
  }

  peekLength(): number {
    const h = this.take(4);
    this.chunks.unshift(h);
    this.length += 4;
    return new DataView(h.buffer, h.byteOffset, 4).getUint32(0);
  }
}

export class HopBodyError extends Error {
  override name = "HopBodyError";
  readonly code: CodeOf<"HopBodyError"> = "hop_body_refused";
}

/** The owner's side: the original body, each frame's data released only after its tag verified. */
export function decodeHopBody(frames: ReadableStream<Uint8Array>, key: Uint8Array, signature: Uint8Array): ReadableStream<Uint8Array> {
  const reader = frames.getReader();
  const q = new ByteQueue();
  let prev = signature;
  let ended = false;
  const fail = (why: string) => {
    void reader.cancel(why).catch(() => {});
    return new HopBodyError(`the forwarded request body was refused: ${why}`);
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        if (q.length >= 4) {
          const len = q.peekLength();
          if (len > MAX_FRAME) throw fail(`a frame of ${len} bytes is over ${MAX_FRAME}`);
          if (q.length >= 4 + len + TAG) {
            if (ended) throw fail("bytes after the final frame");
            q.take(4);
            const data = q.take(len);
            const t = q.take(TAG);
            const want = tag(key, prev, data);
            if (!timingSafeEqual(want, t)) throw fail("a frame does not carry its signature (altered, reordered or from another request)");
            prev = want;
            if (len === 0) {
              ended = true;
              if (q.length) throw fail("bytes after the final frame");
              // The sender closes after the final frame: anything more is not part of the body.
              const rest = await reader.read();
              if (!rest.done) throw fail("bytes after the final frame");
              c.close();
              return;
            }
            // Copied: the queue's chunk may be reused by the reader.
            c.enqueue(data.slice());
            return;
          }
        }
        const r = await reader.read();
        if (r.done) throw fail("it ended before its final frame (cut off)");
        q.push(r.value);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

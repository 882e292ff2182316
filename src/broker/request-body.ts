// How the broker reads a request body before routing, whatever its framing (sized, chunked, close-delimited, a tunnel stream).
//
// Routing needs the model and failover needs a body it can send twice, so a body is read into memory up to
// BUFFER_LIMIT however it arrives: a Content-Length is never required (chunked uploads and tunnel streams carry
// none). Only what cannot be held stays a stream: blob uploads, a declared length over the limit, and a body that
// turns out longer than the limit while being read (its prefix is sent first, then the rest, in a single attempt).

/** Request bodies up to this size are read into memory (routing by model, failover); base64 images fit easily. */
export const BUFFER_LIMIT = 32 * 1024 * 1024;

export interface RoutingBody {
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** Whether the body can be sent again to another upstream (it is held in memory). */
  retryable: boolean;
  /** The part of the body that is in memory: where the model is looked for. */
  head: Uint8Array | null;
  bytesIn: number;
  /** The length to declare upstream; -1 sends it chunked. */
  bodyLength: number;
}

const NONE: RoutingBody = { body: null, retryable: true, head: null, bytesIn: 0, bodyLength: -1 };

/** Reads `req`'s body for routing; null when the client went away while sending it. */
export async function readRoutingBody(req: Request, path: string, limit = BUFFER_LIMIT): Promise<RoutingBody | null> {
  const method = req.method;
  if (method === "GET" || method === "HEAD" || !req.body) return NONE;
  const cl = req.headers.get("content-length");
  const declared = cl !== null && /^\d+$/.test(cl) ? Number(cl) : -1;
  // Multi-GB blobs, or a body that says up front it is too large to hold: streamed through, one attempt.
  if (path.startsWith("/api/blobs/") || declared > limit) return { body: req.body, retryable: false, head: null, bytesIn: Math.max(0, declared), bodyLength: declared };
  if (declared >= 0) {
    // A sized body within the limit (the listener, and the tunnel agent, hold a body to its declared length): read whole.
    let body: Uint8Array;
    try {
      body = await req.bytes();
    } catch {
      return null;
    }
    return { body, retryable: true, head: body, bytesIn: body.byteLength, bodyLength: body.byteLength };
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!value || value.byteLength === 0) continue;
      chunks.push(value);
      size += value.byteLength;
      if (size > limit) {
        // Longer than it can hold: what was read goes first, then the rest as it comes.
        const head = concat(chunks, size);
        return { body: prefixed(head, reader), retryable: false, head, bytesIn: size, bodyLength: -1 };
      }
    }
  } catch {
    return null;
  }
  const body = concat(chunks, size);
  return { body, retryable: true, head: body, bytesIn: size, bodyLength: size };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** `head`, then whatever `reader` still yields; cancelling it cancels the client's body. */
function prefixed(head: Uint8Array, reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let first = true;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (first) {
        first = false;
        c.enqueue(head);
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

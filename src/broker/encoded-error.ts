// An upstream's error answer sent compressed (Content-Encoding) although the broker asked for `identity`: decoded so the
// auth_secret redaction (error-redaction.ts) sees what the caller's client would decode, and a dialect rewriting the
// error in the caller's shape (dialect-attempt.ts) reads the upstream's message; or refused when it cannot be.
import type * as Zlib from "node:zlib";
import { HttpError } from "../core/http-error.ts";
import { SMALL_RESPONSE } from "./exchange.ts";
import type { ReadResult, UpstreamReply } from "./upstream-types.ts";

/** The most an encoded error answer may inflate to: an error message is short, and a bomb must not fill memory. */
const DECODED_LIMIT = 1024 * 1024;

type Decoder = (bytes: Uint8Array) => Uint8Array;
const limit = { maxOutputLength: DECODED_LIMIT };
/**
 * node:zlib loaded on the first encoded error, not with the broker: loading it walks its constants table often enough
 * for the optimising JIT to compile at start-up (tests/api/lazy-load.test.ts), for answers almost no upstream sends.
 */
const zlib = () => require("node:zlib") as typeof Zlib;

/** Each coding an HTTP server sends (RFC 9110 §8.4.1, and zstd of RFC 8878), and how it is undone. */
const DECODERS: Record<string, Decoder> = {
  identity: (b) => b,
  gzip: (b) => zlib().gunzipSync(b, limit),
  "x-gzip": (b) => zlib().gunzipSync(b, limit),
  // "deflate" is zlib-wrapped by the RFC; some servers send it raw.
  deflate: (b) => {
    try {
      return zlib().inflateSync(b, limit);
    } catch {
      return zlib().inflateRawSync(b, limit);
    }
  },
  br: (b) => zlib().brotliDecompressSync(b, limit),
  zstd: (b) => zlib().zstdDecompressSync(b, limit),
};

/** Whether an answer's Content-Encoding (a header value, or null for none) compresses its body. */
export function isEncoded(coding: string | null): coding is string {
  return coding !== null && coding.trim().toLowerCase() !== "identity" && coding.trim() !== "";
}

/** The body undone coding by coding, last applied first; an HttpError naming why when it cannot be. */
function decode(bytes: Uint8Array, coding: string, upstream: string): Uint8Array {
  const codings = coding.toLowerCase().split(",").map((c) => c.trim()).filter((c) => c !== "").reverse();
  let out = bytes;
  for (const c of codings) {
    const decoder = DECODERS[c];
    if (!decoder) throw unreadable(upstream, coding, `the coding "${c}" is unknown to the broker`);
    try {
      out = decoder(out);
    } catch {
      throw unreadable(upstream, coding, `it does not decode within ${DECODED_LIMIT / 1024} KiB`);
    }
  }
  return out;
}

function unreadable(upstream: string, coding: string, why: string): HttpError {
  return new HttpError("upstream_error", `upstream "${upstream}" sent an error answer encoded as ${coding} (it was asked for identity), and ${why}: it is not relayed, as it could show the upstream's credential`);
}

/** The whole body, refused past SMALL_RESPONSE encoded bytes (an error answer is short). */
async function readBounded(res: UpstreamReply, coding: string, upstream: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r: ReadResult = await res.read();
    for (const p of r.value) {
      size += p.byteLength;
      parts.push(p);
    }
    if (size > SMALL_RESPONSE) {
      res.cancel();
      throw unreadable(upstream, coding, `it is larger than ${SMALL_RESPONSE / 1024} KiB`);
    }
    if (r.done) return Buffer.concat(parts);
  }
}

/**
 * `res` (an error answer whose Content-Encoding is `coding`) as a reply whose bytes() are the decoded body: relayed
 * whole, without its Content-Encoding, so the redaction of a whole answer runs on what the upstream wrote. Its read()
 * gives the same decoded body as one part, so a dialect rewriting the error (TransformedReply, which reads part by
 * part) reads the upstream's message, not compressed bytes.
 */
export function decodedErrorReply(res: UpstreamReply, coding: string, upstream: string): UpstreamReply {
  let decoded: Promise<Uint8Array> | null = null;
  const body = () => (decoded ??= readBounded(res, coding, upstream).then((b) => decode(b, coding, upstream)));
  return {
    get status() {
      return res.status;
    },
    get statusText() {
      return res.statusText;
    },
    get hasBody() {
      return res.hasBody;
    },
    header: (name) => (name === "content-encoding" ? null : res.header(name)),
    clientHeaders: () => {
      const h = res.clientHeaders();
      h.delete("content-encoding");
      return h;
    },
    bytes: body,
    read: async (): Promise<ReadResult> => ({ done: true, value: [await body()] }),
    cancel: () => res.cancel(),
  };
}

// An upstream's error answer, or a whole answer a dialect translates, sent compressed (Content-Encoding) although the
// broker asked for `identity`: decoded so the auth_secret redaction (error-redaction.ts) sees what the caller's client
// would decode, and a dialect rewriting it in the caller's shape (dialect-attempt.ts) reads the upstream's JSON; or
// refused when it cannot be.
import type * as Zlib from "node:zlib";
import { HttpError } from "../core/http-error.ts";
import { SMALL_RESPONSE } from "./exchange.ts";
import { BUFFER_LIMIT } from "./request-body.ts";
import type { ReadResult, UpstreamReply } from "./upstream-types.ts";

/** How much of an encoded answer is read, and the most it may inflate to: a bomb must not fill memory. */
interface Bounds {
  /** Named in the refusal: what was sent, and why it goes no further. */
  what: string;
  outcome: string;
  encoded: number;
  decoded: number;
}

/** An error message is short: SMALL_RESPONSE read, 1 MiB decoded. */
const ERROR_BOUNDS: Bounds = { what: "an error answer", outcome: "it is not relayed, as it could show the upstream's credential", encoded: SMALL_RESPONSE, decoded: 1024 * 1024 };
/**
 * A whole answer a dialect translates: no more than WholeBody (dialects/whole-body.ts) holds of one sent as asked,
 * read or decoded, so compressing it gets an upstream nothing an identity answer would not.
 */
const WHOLE_BOUNDS: Bounds = { what: "an answer to translate", outcome: "the broker cannot translate it", encoded: BUFFER_LIMIT, decoded: BUFFER_LIMIT };

type Decoder = (bytes: Uint8Array, limit: { maxOutputLength: number }) => Uint8Array;
/**
 * node:zlib loaded on the first encoded error, not with the broker: loading it walks its constants table often enough
 * for the optimising JIT to compile at start-up (tests/api/lazy-load.test.ts), for answers almost no upstream sends.
 */
const zlib = () => require("node:zlib") as typeof Zlib;

/** Each coding an HTTP server sends (RFC 9110 §8.4.1, and zstd of RFC 8878), and how it is undone. */
const DECODERS: Record<string, Decoder> = {
  identity: (b) => b,
  gzip: (b, limit) => zlib().gunzipSync(b, limit),
  "x-gzip": (b, limit) => zlib().gunzipSync(b, limit),
  // "deflate" is zlib-wrapped by the RFC; some servers send it raw.
  deflate: (b, limit) => {
    try {
      return zlib().inflateSync(b, limit);
    } catch {
      return zlib().inflateRawSync(b, limit);
    }
  },
  br: (b, limit) => zlib().brotliDecompressSync(b, limit),
  zstd: (b, limit) => zlib().zstdDecompressSync(b, limit),
};

/** Whether an answer's Content-Encoding (a header value, or null for none) compresses its body. */
export function isEncoded(coding: string | null): coding is string {
  return coding !== null && coding.trim().toLowerCase() !== "identity" && coding.trim() !== "";
}

/** The body undone coding by coding, last applied first; an HttpError naming why when it cannot be. */
function decode(bytes: Uint8Array, coding: string, upstream: string, bounds: Bounds): Uint8Array {
  const codings = coding.toLowerCase().split(",").map((c) => c.trim()).filter((c) => c !== "").reverse();
  const limit = { maxOutputLength: bounds.decoded };
  let out = bytes;
  for (const c of codings) {
    const decoder = DECODERS[c];
    if (!decoder) throw unreadable(upstream, coding, bounds, `the coding "${c}" is unknown to the broker`);
    try {
      out = decoder(out, limit);
    } catch {
      throw unreadable(upstream, coding, bounds, `it does not decode within ${bounds.decoded / 1024} KiB`);
    }
  }
  return out;
}

function unreadable(upstream: string, coding: string, bounds: Bounds, why: string): HttpError {
  return new HttpError("upstream_error", `upstream "${upstream}" sent ${bounds.what} encoded as ${coding} (it was asked for identity), and ${why}: ${bounds.outcome}`);
}

/** The whole body, refused past `bounds.encoded` bytes. */
async function readBounded(res: UpstreamReply, coding: string, upstream: string, bounds: Bounds): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r: ReadResult = await res.read();
    for (const p of r.value) {
      size += p.byteLength;
      parts.push(p);
    }
    if (size > bounds.encoded) {
      res.cancel();
      throw unreadable(upstream, coding, bounds, `it is larger than ${bounds.encoded / 1024} KiB`);
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
  return decodedReply(res, coding, upstream, ERROR_BOUNDS);
}

/**
 * The same for a whole (not streamed) success answer a dialect rewrites in the caller's shape: its translation parses
 * the upstream's JSON, not compressed bytes (which it would call "not JSON", a 502), bounded as WholeBody holds one.
 */
export function decodedWholeReply(res: UpstreamReply, coding: string, upstream: string): UpstreamReply {
  return decodedReply(res, coding, upstream, WHOLE_BOUNDS);
}

function decodedReply(res: UpstreamReply, coding: string, upstream: string, bounds: Bounds): UpstreamReply {
  let decoded: Promise<Uint8Array> | null = null;
  const body = () => (decoded ??= readBounded(res, coding, upstream, bounds).then((b) => decode(b, coding, upstream, bounds)));
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

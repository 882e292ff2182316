// Pure encode/decode of tunnel protocol v2 frames and BATCH messages; malformed input always becomes a ProtocolError with a code.
import {
  BY_ID,
  GO_AWAY_CODES,
  HEADER_SIZE,
  INITIAL_WINDOW,
  MAX_HEAD,
  MAX_PAYLOAD,
  MAX_ANNOUNCED_STREAMS,
  MAX_RESUME_WINDOW,
  RESET_CODES,
  RESUME_TOKEN,
  TYPE,
  type BatchableFrame,
  type Frame,
  type HeaderList,
  type Hello,
  type Message,
  type RequestHead,
  type ResponseHead,
  type Resume,
  type Resumed,
  type Welcome,
} from "./messages.ts";

export type ProtocolErrorCode =
  | "short_frame"
  | "frame_too_large"
  | "unknown_type"
  | "bad_flags"
  | "bad_stream_id"
  | "bad_payload"
  | "not_binary"
  | "unexpected_frame"
  | "flow_control"
  // Too many frames that carry nothing (session.ts, FLOOD_BASE): no single frame is malformed.
  | "flood";

export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

// Big-endian u32s by hand: a DataView needs `.buffer`, and asking a small typed array for its buffer makes JSC move
// it out of the fast allocation path (it was ~5 % of a tunnel request's CPU).
function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}
function getU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

function header(type: number, stream: number, payloadLength: number): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payloadLength);
  out[0] = type;
  out[1] = 0; // flags: reserved, must be zero in v2
  putU32(out, 2, stream >>> 0);
  return out;
}

/**
 * Encodes one frame into a single binary WebSocket message. Heads are checked by the same rules decode() applies, so a
 * head the peer would refuse (and close the whole session over) fails here, for one request, before anything is sent.
 */
export function encode(f: Frame): Uint8Array {
  const type = TYPE[f.type];
  let payload: Uint8Array;
  switch (f.type) {
    case "DATA":
      payload = f.data;
      break;
    case "END":
      payload = new Uint8Array(0);
      break;
    case "WINDOW_UPDATE": {
      payload = new Uint8Array(4);
      putU32(payload, 0, f.increment >>> 0);
      break;
    }
    case "PING":
    case "PONG":
      payload = f.opaque;
      break;
    default:
      if (f.type === "REQUEST_HEAD") requestHead(f.body as unknown as Record<string, unknown>);
      if (f.type === "RESPONSE_HEAD") responseHead(f.body as unknown as Record<string, unknown>);
      payload = enc.encode(JSON.stringify(f.body));
      if (payload.length > MAX_HEAD) throw new ProtocolError("frame_too_large", `a ${f.type} head of ${payload.length} bytes exceeds the ${MAX_HEAD}-byte limit`);
  }
  if (payload.length > MAX_PAYLOAD) throw new ProtocolError("frame_too_large", `a ${f.type} frame of ${payload.length} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
  const out = header(type, f.stream, payload.length);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** One BATCH message holding already-encoded frames, each prefixed with its u32 length; order is kept. */
export function encodeBatch(frames: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const f of frames) size += 4 + f.length;
  if (size > MAX_PAYLOAD) throw new ProtocolError("frame_too_large", `a BATCH of ${size} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
  const out = header(TYPE.BATCH, 0, size);
  let at = HEADER_SIZE;
  for (const f of frames) {
    putU32(out, at, f.length);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max = 8192): v is string => typeof v === "string" && v.length <= max;

function headers(v: unknown, what: string): HeaderList {
  if (!Array.isArray(v) || v.length > 512) throw new ProtocolError("bad_payload", `${what}.headers must be a list of [name, value] pairs`);
  for (const h of v) {
    if (!Array.isArray(h) || h.length !== 2 || !isStr(h[0], 256) || !isStr(h[1]) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h[0]) || /[\r\n\0]/.test(h[1])) {
      throw new ProtocolError("bad_payload", `${what}.headers holds an invalid header`);
    }
  }
  return v as HeaderList;
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length > 64 || !v.every((s) => isStr(s, 64))) throw new ProtocolError("bad_payload", `${what} must be a list of short strings`);
  return v as string[];
}

function json(payload: Uint8Array, name: string): Record<string, unknown> {
  if (payload.length > MAX_HEAD) throw new ProtocolError("frame_too_large", `a ${name} head of ${payload.length} bytes exceeds the ${MAX_HEAD}-byte limit`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(payload));
  } catch {
    throw new ProtocolError("bad_payload", `${name} payload is not valid UTF-8 JSON`);
  }
  if (!isObj(v)) throw new ProtocolError("bad_payload", `${name} payload must be a JSON object`);
  return v;
}

function requestHead(o: Record<string, unknown>): RequestHead {
  if (!isStr(o.method, 32) || !/^[A-Z]+$/.test(o.method)) throw new ProtocolError("bad_payload", "REQUEST_HEAD.method must be an upper-case HTTP method");
  if (!isStr(o.path, 8192) || !o.path.startsWith("/") || /[\s\0]/.test(o.path)) throw new ProtocolError("bad_payload", "REQUEST_HEAD.path must start with / and contain no spaces");
  const head: RequestHead = { method: o.method, path: o.path, headers: headers(o.headers, "REQUEST_HEAD") };
  if (o.window !== undefined) head.window = streamWindow(o.window, "REQUEST_HEAD");
  return head;
}

/** A stream's initial window named in its first frame: never above the initial window (what a receiver holds per stream stays bounded). */
function streamWindow(v: unknown, name: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > INITIAL_WINDOW) throw new ProtocolError("bad_payload", `${name}.window must be 1..${INITIAL_WINDOW} bytes`);
  return v as number;
}

function responseHead(o: Record<string, unknown>): ResponseHead {
  if (!Number.isInteger(o.status) || (o.status as number) < 200 || (o.status as number) > 599) throw new ProtocolError("bad_payload", "RESPONSE_HEAD.status must be 200..599");
  const head: ResponseHead = { status: o.status as number, headers: headers(o.headers, "RESPONSE_HEAD") };
  if (o.resume !== undefined) head.resume = token(o.resume, "RESPONSE_HEAD.resume");
  return head;
}

function token(v: unknown, what: string): string {
  if (typeof v !== "string" || !RESUME_TOKEN.test(v)) throw new ProtocolError("bad_payload", `${what} must be a resume token (22 base64url characters)`);
  return v;
}

function resumeWindow(v: unknown, name: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_RESUME_WINDOW) throw new ProtocolError("bad_payload", `${name}.resumeWindow must be milliseconds (0..2^31-1)`);
  return v as number;
}

function maxStreams(v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_ANNOUNCED_STREAMS) throw new ProtocolError("bad_payload", "HELLO.maxStreams must be a stream count (1..2^31-1)");
  return v as number;
}

function version(v: unknown, name: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) throw new ProtocolError("bad_payload", `${name}.version must be a small integer`);
  return v as number;
}

/** Decodes one binary WebSocket message. Throws only ProtocolError. */
export function decode(input: Uint8Array | ArrayBuffer): Frame {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  return decodeAt(buf, 0, buf.length);
}

/**
 * The frame in buf[at, end): a BATCH's frames are read in place. Only a payload that is handed on or parsed gets a view
 * of its own (a view per frame was 4 % of the protocol's CPU per request).
 */
function decodeAt(buf: Uint8Array, at: number, end: number): Frame {
  const size = end - at - HEADER_SIZE;
  if (size < 0) throw new ProtocolError("short_frame", `a frame needs at least ${HEADER_SIZE} bytes, got ${end - at}`);
  if (size > MAX_PAYLOAD) throw new ProtocolError("frame_too_large", `a frame of ${size} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
  const spec = BY_ID.get(buf[at]!);
  if (!spec) throw new ProtocolError("unknown_type", `unknown frame type 0x${buf[at]!.toString(16).padStart(2, "0")}`);
  if (buf[at + 1] !== 0) throw new ProtocolError("bad_flags", `${spec.name} has reserved flags set (0x${buf[at + 1]!.toString(16)})`);
  const stream = getU32(buf, at + 2);
  if (spec.scope === "control" && stream !== 0) throw new ProtocolError("bad_stream_id", `${spec.name} must use stream 0`);
  if (spec.scope === "stream" && stream === 0) throw new ProtocolError("bad_stream_id", `${spec.name} needs a non-zero stream id`);
  const from = at + HEADER_SIZE;

  switch (spec.name) {
    case "BATCH":
      // Only decodeMessage() opens a BATCH; here it can only be one nested in another, or a first frame.
      throw new ProtocolError("unexpected_frame", "a BATCH where a single frame belongs");
    case "DATA":
      return { type: "DATA", stream, data: buf.subarray(from, end) };
    case "END":
      if (size) throw new ProtocolError("bad_payload", "END carries no payload");
      return { type: "END", stream };
    case "WINDOW_UPDATE": {
      if (size !== 4) throw new ProtocolError("bad_payload", "WINDOW_UPDATE carries exactly 4 bytes");
      const increment = getU32(buf, from);
      if (increment === 0 || increment > 0x7fffffff) throw new ProtocolError("bad_payload", "WINDOW_UPDATE increment must be 1..2^31-1");
      return { type: "WINDOW_UPDATE", stream, increment };
    }
    case "PING":
    case "PONG":
      if (size !== 8) throw new ProtocolError("bad_payload", `${spec.name} carries exactly 8 bytes`);
      return { type: spec.name, stream: 0, opaque: buf.subarray(from, end) };
  }
  const payload = buf.subarray(from, end);
  switch (spec.name) {
    case "HELLO": {
      const o = json(payload, "HELLO");
      if (!isStr(o.agent, 256)) throw new ProtocolError("bad_payload", "HELLO.agent must be a string");
      const body: Hello = { version: version(o.version, "HELLO"), capabilities: strings(o.capabilities, "HELLO.capabilities"), agent: o.agent };
      if (o.resumeWindow !== undefined) body.resumeWindow = resumeWindow(o.resumeWindow, "HELLO");
      if (o.maxStreams !== undefined) body.maxStreams = maxStreams(o.maxStreams);
      return { type: "HELLO", stream: 0, body };
    }
    case "WELCOME": {
      const o = json(payload, "WELCOME");
      if (!isStr(o.tunnelId, 256)) throw new ProtocolError("bad_payload", "WELCOME.tunnelId must be a string");
      const body: Welcome = { version: version(o.version, "WELCOME"), capabilities: strings(o.capabilities, "WELCOME.capabilities"), tunnelId: o.tunnelId };
      if (o.resumeWindow !== undefined) body.resumeWindow = resumeWindow(o.resumeWindow, "WELCOME");
      return { type: "WELCOME", stream: 0, body };
    }
    case "REQUEST_HEAD":
      return { type: "REQUEST_HEAD", stream, body: requestHead(json(payload, "REQUEST_HEAD")) };
    case "RESPONSE_HEAD":
      return { type: "RESPONSE_HEAD", stream, body: responseHead(json(payload, "RESPONSE_HEAD")) };
    case "RESET": {
      const o = json(payload, "RESET");
      if (!RESET_CODES.includes(o.code as never)) throw new ProtocolError("bad_payload", "RESET.code is not a known reset code");
      if (!isStr(o.reason, 1024)) throw new ProtocolError("bad_payload", "RESET.reason must be a short string");
      return { type: "RESET", stream, body: { code: o.code as never, reason: o.reason } };
    }
    case "RESUME": {
      const o = json(payload, "RESUME");
      const body: Resume = { token: token(o.token, "RESUME.token") };
      if (o.sent !== undefined) {
        if (!Number.isSafeInteger(o.sent) || (o.sent as number) < 0) throw new ProtocolError("bad_payload", "RESUME.sent must be a byte count (a non-negative integer)");
        body.sent = o.sent as number;
      }
      return { type: "RESUME", stream: 0, body };
    }
    case "RESUMED": {
      const o = json(payload, "RESUMED");
      if (!Number.isSafeInteger(o.offset) || (o.offset as number) < 0) throw new ProtocolError("bad_payload", "RESUMED.offset must be a byte offset (a non-negative integer)");
      const body: Resumed = { token: token(o.token, "RESUMED.token"), offset: o.offset as number };
      if (o.window !== undefined) body.window = streamWindow(o.window, "RESUMED");
      return { type: "RESUMED", stream, body };
    }
    case "RESUME_REFUSED": {
      const o = json(payload, "RESUME_REFUSED");
      if (!isStr(o.reason, 1024)) throw new ProtocolError("bad_payload", "RESUME_REFUSED.reason must be a short string");
      return { type: "RESUME_REFUSED", stream: 0, body: { token: token(o.token, "RESUME_REFUSED.token"), reason: o.reason } };
    }
    case "GO_AWAY": {
      const o = json(payload, "GO_AWAY");
      if (!GO_AWAY_CODES.includes(o.code as never)) throw new ProtocolError("bad_payload", "GO_AWAY.code is not a known code");
      if (!isStr(o.reason, 1024)) throw new ProtocolError("bad_payload", "GO_AWAY.reason must be a short string");
      return { type: "GO_AWAY", stream: 0, body: { code: o.code as never, reason: o.reason } };
    }
  }
}

/** Decodes one binary WebSocket message: a single frame, or a BATCH of them. Throws only ProtocolError. */
export function decodeMessage(input: Uint8Array | ArrayBuffer): Message {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (buf.length < HEADER_SIZE || buf[0] !== TYPE.BATCH) return decode(buf);
  if (buf[1] !== 0) throw new ProtocolError("bad_flags", `BATCH has reserved flags set (0x${buf[1]!.toString(16)})`);
  if (getU32(buf, 2) !== 0) throw new ProtocolError("bad_stream_id", "BATCH must use stream 0");
  if (buf.length - HEADER_SIZE > MAX_PAYLOAD) throw new ProtocolError("frame_too_large", `a BATCH of ${buf.length - HEADER_SIZE} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
  if (buf.length === HEADER_SIZE) throw new ProtocolError("bad_payload", "BATCH carries no frames");
  const frames: BatchableFrame[] = [];
  let at = HEADER_SIZE;
  while (at < buf.length) {
    if (buf.length - at < 4) throw new ProtocolError("bad_payload", "BATCH ends inside a frame length");
    const len = getU32(buf, at);
    at += 4;
    if (len > buf.length - at) throw new ProtocolError("bad_payload", `a frame in BATCH claims ${len} bytes but ${buf.length - at} remain`);
    const f = decodeAt(buf, at, at + len);
    if (f.type === "HELLO" || f.type === "WELCOME") throw new ProtocolError("unexpected_frame", `${f.type} inside a BATCH`);
    frames.push(f);
    at += len;
  }
  return { type: "BATCH", stream: 0, frames };
}

/** Decodes without throwing: for callers that branch on the error code. */
export function tryDecode(input: Uint8Array | ArrayBuffer): { ok: true; frame: Frame } | { ok: false; error: ProtocolError } {
  try {
    return { ok: true, frame: decode(input) };
  } catch (e) {
    return { ok: false, error: e instanceof ProtocolError ? e : new ProtocolError("bad_payload", String(e)) };
  }
}

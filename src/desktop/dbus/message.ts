// D-Bus messages: the fixed header, the header fields, the body; framing (how long the next message is) and its checks.
import { MAX_MESSAGE_BYTES } from "./alignment.ts";
import { marshal, Writer } from "./marshal.ts";
import { DBusProtocolError } from "./protocol-error.ts";
import { parseSingle } from "./signature.ts";
import { Reader, readValue, unmarshal } from "./unmarshal.ts";
import { Variant } from "./variant.ts";

export const MessageType = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;
export const MessageFlag = { NO_REPLY_EXPECTED: 1, NO_AUTO_START: 2 } as const;

export interface Message {
  type: number;
  flags?: number;
  serial?: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature?: string;
  body?: unknown[];
}

type FieldKey = "path" | "interface" | "member" | "errorName" | "replySerial" | "destination" | "sender" | "signature";
/** The header fields: code, the message's key, the signature its variant must have. Unknown codes are skipped on reading. */
const FIELDS: [number, FieldKey, string][] = [
  [1, "path", "o"],
  [2, "interface", "s"],
  [3, "member", "s"],
  [4, "errorName", "s"],
  [5, "replySerial", "u"],
  [6, "destination", "s"],
  [7, "sender", "s"],
  [8, "signature", "g"],
];
const BY_CODE = new Map(FIELDS.map((f) => [f[0], f]));
/** What each type must carry (the specification's "required header fields"). */
const REQUIRED: Record<number, FieldKey[]> = { 1: ["path", "member"], 2: ["replySerial"], 3: ["errorName", "replySerial"], 4: ["path", "interface", "member"] };

const LITTLE = 0x6c; // "l"
const BIG = 0x42; // "B"
const FIELDS_TYPE = parseSingle("a(yv)");

/** The wire bytes of `m` (little-endian); `m.serial` must be set. */
export function encodeMessage(m: Message): Uint8Array {
  const signature = m.signature ?? "";
  const body = marshal(signature, m.body ?? []).result();
  const w = new Writer();
  w.u8(LITTLE);
  w.u8(m.type);
  w.u8(m.flags ?? 0);
  w.u8(1);
  w.u32(body.length);
  w.u32(m.serial!);
  const fields: [number, Variant][] = [];
  for (const [code, key, sig] of FIELDS) {
    const v = key === "signature" ? (signature ? signature : undefined) : m[key];
    if (v !== undefined) fields.push([code, new Variant(sig, v)]);
  }
  marshal("a(yv)", [fields], w);
  w.align(8);
  w.raw(body);
  return w.result();
}

/**
 * How many bytes the message at the start of `buf` takes, or 0 when fewer than its fixed 16 bytes have arrived.
 * Throws DBusProtocolError for a header no message can have (the connection then closes: it cannot find the next one).
 */
export function messageLength(buf: Uint8Array): number {
  if (buf.length < 16) return 0;
  if (buf[0] !== LITTLE && buf[0] !== BIG) throw new DBusProtocolError(`unknown endianness byte 0x${buf[0]!.toString(16)}`);
  if (buf[3] !== 1) throw new DBusProtocolError(`unsupported protocol version ${buf[3]}`);
  const view = new DataView(buf.buffer, buf.byteOffset, 16);
  const little = buf[0] === LITTLE;
  const bodyLength = view.getUint32(4, little);
  const fieldsLength = view.getUint32(12, little);
  const total = 16 + Math.ceil(fieldsLength / 8) * 8 + bodyLength;
  if (total > MAX_MESSAGE_BYTES) throw new DBusProtocolError(`message of ${total} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`);
  return total;
}

/** Decodes one whole message (as long as messageLength said); throws DBusProtocolError naming what is wrong. */
export function decodeMessage(buf: Uint8Array): Message {
  const total = messageLength(buf);
  if (!total || buf.length < total) throw new DBusProtocolError("message is shorter than its header says");
  const r = new Reader(buf.subarray(0, total), buf[0] === LITTLE);
  r.pos = 1;
  const m: Message = { type: r.u8(), flags: r.u8() };
  r.pos = 4;
  const bodyLength = r.u32();
  m.serial = r.u32();
  if (m.serial === 0) throw new DBusProtocolError("message serial is 0");
  for (const [code, value] of readValue(r, FIELDS_TYPE) as [number, Variant][]) {
    const f = BY_CODE.get(code);
    if (!f) continue;
    if (value.signature !== f[2]) throw new DBusProtocolError(`header field ${f[1]} has signature "${value.signature}", not "${f[2]}"`);
    (m as unknown as Record<string, unknown>)[f[1]] = value.value;
  }
  r.align(8);
  const bodyStart = r.pos;
  if (bodyStart + bodyLength !== total) throw new DBusProtocolError("header fields overrun their length");
  const missing = (REQUIRED[m.type] ?? []).filter((k) => m[k] === undefined);
  if (missing.length) throw new DBusProtocolError(`message of type ${m.type} lacks ${missing.join(", ")}`);
  if (bodyLength && !m.signature) throw new DBusProtocolError("message has a body but no signature");
  m.body = unmarshal(r, m.signature ?? "");
  if (r.pos !== total) throw new DBusProtocolError(`body is ${total - r.pos} bytes longer than its signature "${m.signature ?? ""}" says`);
  return m;
}

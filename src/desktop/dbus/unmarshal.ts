// Reads D-Bus wire bytes (either endianness) into values, checking every length, padding and string as the specification asks.
import { ALIGNMENT, MAX_ARRAY_BYTES, OBJECT_PATH } from "./alignment.ts";
import { DBusProtocolError } from "./protocol-error.ts";
import { parseSignature, parseSingle, type TypeNode } from "./signature.ts";
import { Variant } from "./variant.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });
/** Variants can nest without a signature saying how deep: bounded like the specification's total of 64 containers. */
const MAX_NESTING = 64;

/** A cursor over one message; `pos` counts from the message's first byte, so alignment is the wire's. */
export class Reader {
  private readonly view: DataView;
  pos = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly little: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) throw new DBusProtocolError(`message ends inside ${what}`);
  }
  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this.need(pad, "padding");
    for (let i = 0; i < pad; i++) if (this.bytes[this.pos + i] !== 0) throw new DBusProtocolError("padding byte is not zero");
    this.pos += pad;
  }
  u8(): number {
    this.need(1, "a byte");
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    this.align(4);
    this.need(4, "a 32-bit integer");
    const v = this.view.getUint32(this.pos, this.little);
    this.pos += 4;
    return v;
  }
  num(code: string): number | bigint {
    const size = ALIGNMENT[code]!;
    this.align(size);
    this.need(size, `a "${code}" value`);
    const at = this.pos;
    this.pos += size;
    const d = this.view;
    const le = this.little;
    if (code === "n") return d.getInt16(at, le);
    if (code === "q") return d.getUint16(at, le);
    if (code === "i") return d.getInt32(at, le);
    if (code === "u" || code === "h") return d.getUint32(at, le);
    if (code === "x") return d.getBigInt64(at, le);
    if (code === "t") return d.getBigUint64(at, le);
    return d.getFloat64(at, le);
  }
  /** A string of `len` bytes followed by its NUL. */
  text(len: number, what: string): string {
    this.need(len + 1, what);
    const b = this.bytes.subarray(this.pos, this.pos + len);
    if (this.bytes[this.pos + len] !== 0) throw new DBusProtocolError(`${what} is not NUL-terminated`);
    this.pos += len + 1;
    if (b.includes(0)) throw new DBusProtocolError(`${what} holds a NUL character`);
    try {
      return decoder.decode(b);
    } catch {
      throw new DBusProtocolError(`${what} is not valid UTF-8`);
    }
  }
  signature(): string {
    const s = this.text(this.u8(), "a signature");
    parseSignature(s);
    return s;
  }
}

/** Reads one value of type `t`. */
export function readValue(r: Reader, t: TypeNode, depth = 0): unknown {
  if (depth > MAX_NESTING) throw new DBusProtocolError(`values nest deeper than ${MAX_NESTING}`);
  switch (t.code) {
    case "y":
      return r.u8();
    case "b": {
      const v = r.u32();
      if (v > 1) throw new DBusProtocolError(`boolean value ${v} is neither 0 nor 1`);
      return v === 1;
    }
    case "s":
      return r.text(r.u32(), "a string");
    case "o": {
      const p = r.text(r.u32(), "an object path");
      if (!OBJECT_PATH.test(p)) throw new DBusProtocolError(`"${p.slice(0, 80)}" is not an object path`);
      return p;
    }
    case "g":
      return r.signature();
    case "v": {
      const sig = r.signature();
      return new Variant(sig, readValue(r, parseSingle(sig), depth + 1));
    }
    case "a":
      return readArray(r, t.child, depth);
    case "(": {
      r.align(8);
      return t.children.map((c) => readValue(r, c, depth + 1));
    }
    case "{":
      throw new DBusProtocolError("a dict entry outside an array");
    default:
      return r.num(t.code);
  }
}

function readArray(r: Reader, child: TypeNode, depth: number): unknown {
  const len = r.u32();
  if (len > MAX_ARRAY_BYTES) throw new DBusProtocolError(`array of ${len} bytes is over the ${MAX_ARRAY_BYTES}-byte limit`);
  r.align(ALIGNMENT[child.code]!);
  const end = r.pos + len;
  if (end > r.bytes.length) throw new DBusProtocolError("message ends inside an array");
  if (child.code === "y") {
    // A copy (slice: native), wrapped without a second one: the message's bytes are the connection's receive buffer.
    const copy = r.bytes.slice(r.pos, end);
    const b = Buffer.from(copy.buffer, copy.byteOffset, copy.length);
    r.pos = end;
    return b;
  }
  const read = () => {
    if (r.pos > end) throw new DBusProtocolError("array elements overrun the array's length");
  };
  if (child.code === "{") {
    const dict: Record<string, unknown> = {};
    const [kt, vt] = child.children;
    while (r.pos < end) {
      r.align(8);
      const k = String(readValue(r, kt, depth + 1));
      const v = readValue(r, vt, depth + 1);
      if (k === "__proto__") Object.defineProperty(dict, k, { value: v, enumerable: true, writable: true, configurable: true });
      else dict[k] = v;
      read();
    }
    return dict;
  }
  const out: unknown[] = [];
  while (r.pos < end) {
    out.push(readValue(r, child, depth + 1));
    read();
  }
  return out;
}

/** Reads the complete types of `signature` from `r` (a message body). */
export function unmarshal(r: Reader, signature: string): unknown[] {
  return parseSignature(signature).map((t) => readValue(r, t));
}

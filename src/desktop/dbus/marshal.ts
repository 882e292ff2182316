// Writes values of the D-Bus type system into little-endian wire bytes, aligned from the start of the message.
import { ALIGNMENT, MAX_ARRAY_BYTES, OBJECT_PATH } from "./alignment.ts";
import { parseSignature, parseSingle, type TypeNode } from "./signature.ts";
import { Variant } from "./variant.ts";

const encoder = new TextEncoder();

/** A growing byte buffer; `pos` counts from the start of the message, so alignment is the wire's. */
export class Writer {
  private bytes = new Uint8Array(256);
  private view = new DataView(this.bytes.buffer);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this.room(pad);
    this.bytes.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }
  u8(v: number): void {
    this.room(1);
    this.bytes[this.pos++] = v;
  }
  u32(v: number): void {
    this.align(4);
    this.room(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  /** Writes a number or bigint as `code` (n q i u h x t d), after alignment. */
  num(code: string, v: number | bigint): void {
    const size = ALIGNMENT[code]!;
    this.align(size);
    this.room(size);
    const at = this.pos;
    const d = this.view;
    if (code === "n") d.setInt16(at, Number(v), true);
    else if (code === "q") d.setUint16(at, Number(v), true);
    else if (code === "i") d.setInt32(at, Number(v), true);
    else if (code === "u" || code === "h") d.setUint32(at, Number(v), true);
    else if (code === "x") d.setBigInt64(at, BigInt(v), true);
    else if (code === "t") d.setBigUint64(at, BigInt(v), true);
    else d.setFloat64(at, Number(v), true);
    this.pos += size;
  }
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }
  /** Overwrites a u32 written earlier (an array's length, known once its elements are written). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }
  result(): Uint8Array {
    return this.bytes.subarray(0, this.pos);
  }
}

/** The range of each integer code: a value outside it is a caller's mistake, named rather than wrapped around. */
const RANGE: Record<string, [number | bigint, number | bigint]> = {
  y: [0, 255],
  n: [-0x8000, 0x7fff],
  q: [0, 0xffff],
  i: [-0x80000000, 0x7fffffff],
  u: [0, 0xffffffff],
  h: [0, 0xffffffff],
  x: [-(2n ** 63n), 2n ** 63n - 1n],
  t: [0n, 2n ** 64n - 1n],
};

function fail(t: TypeNode, v: unknown, why: string): never {
  const shown = typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : typeof v === "object" && v !== null ? v.constructor?.name ?? "object" : String(v);
  throw new TypeError(`cannot write ${shown} as D-Bus "${t.code}": ${why}`);
}

function writeString(w: Writer, t: TypeNode, v: unknown): void {
  if (typeof v !== "string") fail(t, v, "not a string");
  if (v.includes("\0")) fail(t, v, "a string cannot hold a NUL character");
  if (t.code === "o" && !OBJECT_PATH.test(v)) fail(t, v, "not an object path");
  const b = encoder.encode(v);
  if (t.code === "g") {
    parseSignature(v);
    w.u8(b.length);
  } else w.u32(b.length);
  w.raw(b);
  w.u8(0);
}

/** Writes one value of type `t`. */
export function writeValue(w: Writer, t: TypeNode, v: unknown): void {
  switch (t.code) {
    case "s":
    case "o":
    case "g":
      return writeString(w, t, v);
    case "b":
      if (typeof v !== "boolean") fail(t, v, "not a boolean");
      return w.u32(v ? 1 : 0);
    case "d":
      if (typeof v !== "number") fail(t, v, "not a number");
      return w.num("d", v);
    case "y":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 255) fail(t, v, "not a byte (0-255)");
      return w.u8(v);
    case "v": {
      if (!(v instanceof Variant)) fail(t, v, "a variant takes a Variant(signature, value)");
      const inner = parseSingle(v.signature);
      writeString(w, { code: "g" }, v.signature);
      return writeValue(w, inner, v.value);
    }
    case "a":
      return writeArray(w, t.child, v);
    case "(": {
      if (!Array.isArray(v) || v.length !== t.children.length) fail(t, v, `a struct takes an array of ${t.children.length} fields`);
      w.align(8);
      t.children.forEach((c, i) => writeValue(w, c, v[i]));
      return;
    }
    case "{":
      fail(t, v, "a dict entry only appears inside an array");
    default: {
      const [lo, hi] = RANGE[t.code]!;
      const big = t.code === "x" || t.code === "t";
      if (typeof v !== "number" && typeof v !== "bigint") fail(t, v, "not a number");
      if (!big && (typeof v !== "number" || !Number.isInteger(v))) fail(t, v, "not an integer");
      if (big && typeof v === "number" && !Number.isSafeInteger(v)) fail(t, v, "not an exact integer (pass a BigInt)");
      if (v < lo || v > hi) fail(t, v, `out of range ${lo}..${hi}`);
      return w.num(t.code, v);
    }
  }
}

function writeArray(w: Writer, child: TypeNode, v: unknown): void {
  w.u32(0);
  const lengthAt = w.pos - 4;
  w.align(ALIGNMENT[child.code]!);
  const start = w.pos;
  if (child.code === "y" && v instanceof Uint8Array) w.raw(v);
  else if (child.code === "{") {
    const entries = v instanceof Map ? [...v] : typeof v === "object" && v !== null && !Array.isArray(v) ? Object.entries(v) : fail({ code: "a", child }, v, "a dict takes an object or a Map");
    const [kt, vt] = child.children;
    for (const [k, val] of entries) {
      w.align(8);
      // Object keys are strings: a numeric key type reads them back as numbers.
      writeValue(w, kt, typeof k === "string" && kt.code !== "s" && kt.code !== "o" && kt.code !== "g" ? (kt.code === "b" ? k === "true" : kt.code === "x" || kt.code === "t" ? BigInt(k) : Number(k)) : k);
      writeValue(w, vt, val);
    }
  } else {
    if (!Array.isArray(v)) fail({ code: "a", child }, v, "not an array");
    for (const e of v) writeValue(w, child, e);
  }
  if (w.pos - start > MAX_ARRAY_BYTES) throw new TypeError(`a D-Bus array is limited to ${MAX_ARRAY_BYTES} bytes`);
  w.patchU32(lengthAt, w.pos - start);
}

/** Writes `values` as the complete types of `signature` (a message body) into `w`. */
export function marshal(signature: string, values: readonly unknown[], w = new Writer()): Writer {
  const types = parseSignature(signature);
  if (values.length !== types.length) throw new TypeError(`signature "${signature}" takes ${types.length} values, got ${values.length}`);
  types.forEach((t, i) => writeValue(w, t, values[i]));
  return w;
}

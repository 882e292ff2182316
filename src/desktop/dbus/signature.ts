// D-Bus type signatures: parsed once into trees the codec walks, validated as the specification demands.
import { DBusProtocolError } from "./protocol-error.ts";

/** One complete type: a basic code, or a container with its element types. */
export type TypeNode =
  | { code: "y" | "b" | "n" | "q" | "i" | "u" | "x" | "t" | "d" | "h" | "s" | "o" | "g" | "v" }
  | { code: "a"; child: TypeNode }
  | { code: "("; children: TypeNode[] }
  | { code: "{"; children: [TypeNode, TypeNode] };

const BASIC = "ybnqiuxtdhsog";
/** The specification's limits: 255 bytes, 32 nested arrays, 32 nested structs. */
const MAX_LENGTH = 255;
const MAX_DEPTH = 32;

const cache = new Map<string, TypeNode[]>();

/** The complete types of a signature (a message body, a struct's fields); throws DBusProtocolError naming what is wrong. */
export function parseSignature(sig: string): TypeNode[] {
  let types = cache.get(sig);
  if (types) return types;
  if (sig.length > MAX_LENGTH) throw new DBusProtocolError(`signature longer than ${MAX_LENGTH} characters`);
  let pos = 0;
  const one = (arrays: number, structs: number): TypeNode => {
    const c = sig[pos++];
    if (c === undefined) throw new DBusProtocolError(`signature "${sig}" ends inside a type`);
    if (BASIC.includes(c) || c === "v") return { code: c as "y" };
    if (c === "a") {
      if (arrays >= MAX_DEPTH) throw new DBusProtocolError(`signature "${sig}" nests arrays deeper than ${MAX_DEPTH}`);
      if (sig[pos] === "{") {
        pos++;
        const key = one(arrays + 1, structs + 1);
        if (!("code" in key) || !BASIC.includes(key.code)) throw new DBusProtocolError(`signature "${sig}": a dict key must be a basic type`);
        const value = one(arrays + 1, structs + 1);
        if (sig[pos++] !== "}") throw new DBusProtocolError(`signature "${sig}": a dict entry holds exactly a key and a value`);
        return { code: "a", child: { code: "{", children: [key, value] } };
      }
      return { code: "a", child: one(arrays + 1, structs) };
    }
    if (c === "(") {
      if (structs >= MAX_DEPTH) throw new DBusProtocolError(`signature "${sig}" nests structs deeper than ${MAX_DEPTH}`);
      const children: TypeNode[] = [];
      while (sig[pos] !== ")") {
        if (pos >= sig.length) throw new DBusProtocolError(`signature "${sig}" has an unclosed struct`);
        children.push(one(arrays, structs + 1));
      }
      pos++;
      if (!children.length) throw new DBusProtocolError(`signature "${sig}" has an empty struct`);
      return { code: "(", children };
    }
    throw new DBusProtocolError(`signature "${sig}" has an unexpected "${c}"`);
  };
  types = [];
  while (pos < sig.length) types.push(one(0, 0));
  if (cache.size < 256) cache.set(sig, types);
  return types;
}

/** Parses a signature that must be exactly one complete type (a variant's, a property's). */
export function parseSingle(sig: string): TypeNode {
  const types = parseSignature(sig);
  if (types.length !== 1) throw new DBusProtocolError(`signature "${sig}" is not a single complete type`);
  return types[0]!;
}

/** The signature text of a type tree (introspection, variants built from trees). */
export function signatureOf(t: TypeNode): string {
  if (t.code === "a") return "a" + signatureOf(t.child);
  if (t.code === "(") return "(" + t.children.map(signatureOf).join("") + ")";
  if (t.code === "{") return "{" + t.children.map(signatureOf).join("") + "}";
  return t.code;
}

// Reads chosen top-level fields of a JSON request body the way the upstream's parser finds them, skipping everything else unparsed.
//
// Why: the gateway's model allowlist must check the model the upstream will run, and the upstream decides which field
// that is. Ollama (and its /v1 layer) decode with Go's encoding/json into a struct:
//   - only the top-level object's keys count: a "model" inside "options" or a message is another struct's field;
//   - a key is decoded first (JSON escapes: "\u006dodel" is "model"), then matched to a field exactly or, failing
//     that, case-insensitively: encoding/json folds each character to the smallest of its Unicode simple case folding
//     set (bytes.EqualFold before Go 1.21), so besides ASCII case two non-ASCII characters fold onto ASCII letters:
//     the Kelvin sign K (U+212A) onto k and the long s ſ (U+017F) onto s. encoding/json/v2 (GOEXPERIMENT=jsonv2), when
//     it matches without case, also ignores "_" and "-" ("mo_del" is model). Read here as the union of these, plus
//     dotted İ (U+0130) and dotless ı (U+0131) as i, which parsers that upper- or lower-case whole strings fold so;
//   - every key that matches sets the field, so the last one wins ({"model":"a","MODEL":"b"} runs b);
//   - a JSON null leaves the field as it was; a value of another type is an error (Ollama answers 400);
//   - json.Decoder reads the first value and ignores what follows it.
// OpenAI-compatible servers read the same body differently: vLLM (Python json + pydantic) and llama.cpp (nlohmann
// json) match keys case-sensitively, so "MODEL" is not their model at all, and a duplicate key goes to the last (Python
// dict) or the first or last (nlohmann, by version). No single reading is right for every upstream behind the broker,
// so a body that names a field twice, or in another spelling of its name, has no one answer: this module reports it
// and the caller refuses the body rather than guessing (src/broker/model-fields.ts).
//
// Speed: a request body may hold megabytes of base64 images. Strings are skipped with Buffer.indexOf (a native search
// for the closing quote), nested objects and arrays by a byte loop that also jumps over their strings; nothing but the
// chosen fields' values is decoded. A UTF-8 BOM is skipped (Python accepts one; Go refuses the body, so nothing runs).
//
// What only Python reads is refused, anywhere in the body: vLLM's json.loads(bytes) also takes UTF-16 and UTF-32 (by a
// byte-order mark, or a NUL in the first two bytes) and the literals NaN, Infinity and -Infinity. The budget's hold
// reads the body with JSON.parse (src/gateway/budget.ts), which takes neither: such a body would hold the default and
// generate its max_tokens on vLLM. Go, nlohmann and JSON.parse refuse both, so refusing them costs no client anything.

import { isUtf8 } from "node:buffer";

/** One chosen field as the body names it. */
export interface FieldRead {
  /** How many keys are exactly this name once unescaped ("model" and "\u006dodel" alike). */
  exact: number;
  /** Keys that are another spelling of the name which a case-insensitive parser (Go's) would also take ("MODEL", "mo_del", "ſource"). */
  variants: readonly string[];
  /** The last exact key's value: a string, null for JSON null, undefined when absent, or `NOT_A_STRING`. */
  value: string | null | undefined | typeof NOT_A_STRING;
}

export const NOT_A_STRING: unique symbol = Symbol("not a string");

export type TopLevel =
  /** `complete`: the object ended within the bytes given (false when only a head of the body was read). */
  | { kind: "object"; fields: FieldRead[]; complete: boolean }
  /** Empty, or a JSON value that is not an object (array, string, number, …): names no field. */
  | { kind: "not-object" }
  /** Not JSON where the upstream needs it to be; `at` is the byte offset. */
  | { kind: "invalid"; at: number; reason: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const UNDERSCORE = 0x5f;
/** The first letters of NaN and Infinity: no JSON token outside a string has an upper-case N or I. */
const UPPER_N = 0x4e;
const UPPER_I = 0x49;
const PYTHON_ONLY = "NaN and Infinity are not JSON (Python's json reads them, other parsers do not)";
const DASH = 0x2d;

/** Characters outside ASCII that a parser's case folding maps onto an ASCII letter (see the top of this file). */
const NON_ASCII_FOLDS: ReadonlyMap<number, number> = new Map([
  [0x212a, 0x6b], // KELVIN SIGN → k
  [0x017f, 0x73], // LATIN SMALL LETTER LONG S → s
  [0x0130, 0x69], // LATIN CAPITAL LETTER I WITH DOT ABOVE → i (lower-casing whole strings: "İ".toLowerCase() starts with i)
  [0x0131, 0x69], // LATIN SMALL LETTER DOTLESS I → i (upper-casing whole strings: "ı".toUpperCase() is I)
]);

const NO_VARIANTS: readonly string[] = [];
const NOT_OBJECT: TopLevel = Object.freeze({ kind: "not-object" });
/** UTF-16 or UTF-32 as Python's json.detect_encoding finds it (see the top of this file). */
const NOT_UTF8: TopLevel = Object.freeze({ kind: "invalid", at: 0, reason: "the body is UTF-16 or UTF-32 (Python's json reads it, other parsers do not): send UTF-8" });

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

class Invalid {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {}
}
/** The data ended inside the object: only a head of the body was given. */
class Truncated {}
const TRUNCATED = new Truncated();

/**
 * Where a JSON body's value starts: past a UTF-8 BOM and JSON white space (the body's length when there is none). The
 * one reading of a body's start, for readTopLevel and the dialect routes' check that a body is an object (body-check.ts).
 */
export function valueStart(body: Uint8Array): number {
  const n = body.length;
  let i = n >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  while (i < n && isSpace(body[i]!)) i++;
  return i;
}

/**
 * The chosen top-level fields of `body` (names in lower case ASCII). Reads only what it must: the keys of the top-level
 * object and the values of the chosen fields. `into`: the caller's FieldRead per name, reset and filled in place (a
 * check run on every request allocates none); the answer is read before the next call.
 */
export function readTopLevel(body: Uint8Array, names: readonly string[], into?: FieldRead[]): TopLevel {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const n = buf.length;
  if (n >= 2 && (buf[0] === 0 || buf[1] === 0 || (buf[0] === 0xfe && buf[1] === 0xff) || (buf[0] === 0xff && buf[1] === 0xfe)))
    return wideObject(buf) ? NOT_UTF8 : NOT_OBJECT;
  let i = valueStart(buf);
  if (i >= n || buf[i] !== OPEN_BRACE) return NOT_OBJECT;
  let fields: FieldRead[];
  if (into) {
    fields = into;
    for (let k = 0; k < names.length; k++) {
      const f = into[k]!;
      f.exact = 0;
      f.variants = NO_VARIANTS;
      f.value = undefined;
    }
  } else {
    fields = [];
    for (let k = 0; k < names.length; k++) fields.push({ exact: 0, variants: NO_VARIANTS, value: undefined });
  }
  const spec = keySpec(names);
  try {
    i = skipSpace(buf, i + 1);
    if (buf[i] === CLOSE_BRACE) return finish(buf, i + 1, fields);
    for (;;) {
      if (i >= n) throw TRUNCATED;
      if (buf[i] !== QUOTE) throw new Invalid(i, "expected a key in quotes");
      const keyEnd = stringEnd(buf, i + 1);
      const which = matchKey(buf, i + 1, keyEnd, names, spec);
      const variant = which === NO_MATCH || which % 2 === 1 ? null : variantKey;
      i = skipSpace(buf, keyEnd + 1);
      if (i >= n) throw TRUNCATED;
      if (buf[i] !== COLON) throw new Invalid(i, "expected : after a key");
      i = skipSpace(buf, i + 1);
      if (i >= n) throw TRUNCATED;
      if (which === NO_MATCH) {
        i = skipValue(buf, i);
      } else {
        const f = fields[which >> 1]!;
        const start = i;
        i = skipValue(buf, i);
        if (variant === null) {
          f.exact++;
          f.value = valueOf(buf, start, i, names[which >> 1]!);
        } else f.variants = [...f.variants, variant];
      }
      i = skipSpace(buf, i);
      if (i >= n) throw TRUNCATED;
      const c = buf[i]!;
      if (c === CLOSE_BRACE) return finish(buf, i + 1, fields);
      if (c !== COMMA) throw new Invalid(i, "expected , or } after a value");
      i = skipSpace(buf, i + 1);
    }
  } catch (e) {
    if (e === TRUNCATED) return { kind: "object", fields, complete: false };
    if (e instanceof Invalid) return { kind: "invalid", at: e.at, reason: e.reason };
    throw e;
  }
}

/**
 * Whether a body Python would decode as UTF-16 or UTF-32 is a JSON object there: past its byte-order mark, NULs and
 * white space (an ASCII character in those encodings is its byte beside NULs), the first byte is "{". (Other bodies
 * starting so, a binary upload, name nothing, as before.)
 */
function wideObject(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c !== 0 && c !== 0xfe && c !== 0xff && !isSpace(c)) return c === OPEN_BRACE;
  }
  return false;
}

function finish(buf: Buffer, end: number, fields: FieldRead[]): TopLevel {
  // Go's decoder would ignore what follows the object; Python's and nlohmann's refuse it. Refused here too.
  const i = skipSpace(buf, end);
  if (i < buf.length) return { kind: "invalid", at: i, reason: "data after the JSON object" };
  return { kind: "object", fields, complete: true };
}

function skipSpace(buf: Buffer, i: number): number {
  const n = buf.length;
  while (i < n && isSpace(buf[i]!)) i++;
  return i;
}

/** The index of the quote that closes the string whose content starts at `from`. */
function stringEnd(buf: Buffer, from: number): number {
  let q = from;
  for (;;) {
    q = buf.indexOf(QUOTE, q);
    if (q < 0) throw TRUNCATED;
    // A quote preceded by an odd number of backslashes is escaped.
    let b = q - 1;
    while (b >= from && buf[b] === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    q++;
  }
}

/** The index just after the value starting at `i`. */
function skipValue(buf: Buffer, i: number): number {
  const c = buf[i]!;
  if (c === QUOTE) return stringEnd(buf, i + 1) + 1;
  if (c === OPEN_BRACE || c === OPEN_BRACKET) return skipContainer(buf, i);
  // A number or a literal (true, false, null): up to the next delimiter. Python also reads NaN, Infinity and -Infinity.
  const start = i;
  const n = buf.length;
  while (i < n) {
    const x = buf[i]!;
    if (x === COMMA || x === CLOSE_BRACE || x === CLOSE_BRACKET || isSpace(x)) break;
    if (x === QUOTE || x === OPEN_BRACE || x === OPEN_BRACKET || x === COLON) throw new Invalid(i, "unexpected character in a value");
    if (x === UPPER_N || x === UPPER_I) throw new Invalid(i, PYTHON_ONLY);
    i++;
  }
  if (i >= n) throw TRUNCATED;
  if (i === start) throw new Invalid(i, "expected a value");
  return i;
}

/** Skips a nested object or array: depth counting, strings jumped over whole. */
function skipContainer(buf: Buffer, i: number): number {
  const n = buf.length;
  let depth = 0;
  while (i < n) {
    const c = buf[i]!;
    if (c === QUOTE) {
      i = stringEnd(buf, i + 1) + 1;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
    } else if (c === UPPER_N || c === UPPER_I) throw new Invalid(i, PYTHON_ONLY);
    i++;
  }
  throw TRUNCATED;
}

/** What matching needs to know of the chosen names, worked out once per list (the routes' lists are constants). */
interface KeySpec {
  /** Each name without "_" and "-" (what a key folds onto, its own "_" and "-" left out too). */
  bare: readonly string[];
}
const specs = new WeakMap<readonly string[], KeySpec>();
const undelimited = (s: string) => s.replace(/[_-]/g, "");
function keySpec(names: readonly string[]): KeySpec {
  let spec = specs.get(names);
  if (!spec) specs.set(names, (spec = { bare: names.map(undelimited) }));
  return spec;
}

/** matchKey's answer: no chosen name. Otherwise the name's index times 2, plus 1 when the key is exactly the name. */
const NO_MATCH = -1;
/** The key matchKey last matched as another spelling (read at once by the caller, for the 400's message). */
let variantKey = "";

/**
 * Which chosen name the key between `start` and `end` (content, no quotes) is, exactly or as another spelling
 * (NO_MATCH, or index * 2 + exact). A plain ASCII key, the common case, is compared byte by byte, allocating nothing.
 */
function matchKey(buf: Buffer, start: number, end: number, names: readonly string[], spec: KeySpec): number {
  const len = end - start;
  let plain = true;
  let delimiters = 0;
  for (let j = start; j < end; j++) {
    const c = buf[j]!;
    if (c === BACKSLASH || c >= 0x80) {
      plain = false;
      break;
    }
    if (c === UNDERSCORE || c === DASH) delimiters++;
  }
  if (plain) {
    for (let k = 0; k < names.length; k++) {
      const bare = spec.bare[k]!;
      if (bare.length !== len - delimiters) continue;
      // The key without its delimiters against the name without its own, ASCII letters without case.
      let j = start;
      let folded = true;
      for (let t = 0; t < bare.length; t++, j++) {
        let c = buf[j]!;
        while (c === UNDERSCORE || c === DASH) c = buf[++j]!;
        const want = bare.charCodeAt(t);
        if (c !== want && ((c | 0x20) !== want || want < 0x61 || want > 0x7a)) {
          folded = false;
          break;
        }
      }
      if (!folded) continue;
      const name = names[k]!;
      let exact = name.length === len;
      for (let t = 0; exact && t < len; t++) if (buf[start + t] !== name.charCodeAt(t)) exact = false;
      if (!exact) variantKey = buf.toString("latin1", start, end);
      return k * 2 + (exact ? 1 : 0);
    }
    return NO_MATCH;
  }
  // Escapes or non-ASCII: decoded as JSON decodes it, then compared character by character.
  let key: string;
  try {
    key = JSON.parse(buf.toString("utf8", start - 1, end + 1)) as string;
  } catch {
    throw new Invalid(start - 1, "a key is not a valid JSON string");
  }
  for (let k = 0; k < names.length; k++) {
    const name = names[k]!;
    if (key === name) return k * 2 + 1;
    if (foldsTo(key, name)) {
      variantKey = key;
      return k * 2;
    }
  }
  return NO_MATCH;
}

/** Whether `key` is `name` (lower-case ASCII) under the loosest folding above: case, the non-ASCII folds, "_" and "-" left out of both. */
export function foldsTo(key: string, name: string): boolean {
  const target = undelimited(name);
  let j = 0;
  for (const ch of key) {
    const cp = ch.codePointAt(0)!;
    if (cp === UNDERSCORE || cp === DASH) continue;
    const f = cp < 0x80 ? (cp >= 0x41 && cp <= 0x5a ? cp | 0x20 : cp) : NON_ASCII_FOLDS.get(cp);
    if (j >= target.length || f !== target.charCodeAt(j)) return false;
    j++;
  }
  return j === target.length;
}

const latin1Safe = (buf: Buffer, start: number, end: number) => {
  for (let j = start; j < end; j++) if (buf[j]! >= 0x80 || buf[j] === BACKSLASH) return false;
  return true;
};

/**
 * A chosen field's value: a string (unescaped), null, or NOT_A_STRING. A string that is not well-formed text is refused
 * (I-JSON, RFC 7493 §2.1: UTF-8, no lone surrogates), since parsers read it differently: Go replaces each invalid byte
 * and a lone "\uD800" with U+FFFD ("ok\xE2\x82" is "ok��"), TextDecoder a whole bad sequence with one, Python's json
 * refuses invalid UTF-8 but keeps a lone surrogate, nlohmann refuses both. (ASCII without escapes, the common case, is
 * well-formed and read as it is.)
 */
function valueOf(buf: Buffer, start: number, end: number, name: string): string | null | typeof NOT_A_STRING {
  const c = buf[start]!;
  if (c === QUOTE) {
    if (latin1Safe(buf, start + 1, end - 1)) return buf.toString("latin1", start + 1, end - 1);
    if (!isUtf8(buf.subarray(start + 1, end - 1))) throw new Invalid(start, `"${name}" is not valid UTF-8 (Go reads each bad byte as U+FFFD, Python's json and llama.cpp refuse the body)`);
    let v: string;
    try {
      v = JSON.parse(buf.toString("utf8", start, end)) as string;
    } catch {
      throw new Invalid(start, "a string value is not valid JSON");
    }
    if (!v.isWellFormed()) throw new Invalid(start, `"${name}" has a lone surrogate escape (Go reads it as U+FFFD, Python keeps it, llama.cpp refuses the body)`);
    return v;
  }
  if (end - start === 4 && c === 0x6e && buf[start + 1] === 0x75 && buf[start + 2] === 0x6c && buf[start + 3] === 0x6c) return null;
  return NOT_A_STRING;
}

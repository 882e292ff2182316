// How each kind's server reads a request body and a request path, from its parser's and router's sources: the fake reads them the same way, so a test through the broker sees what that server would run.
//
// Bodies (a table of parser traits per kind, one reader):
//   - Ollama: gin's ShouldBindJSON, Go's encoding/json (json.Decoder): UTF-8 only (a BOM is an error), each invalid
//     byte in a string read as U+FFFD, a lone \uD800 as U+FFFD, data after the value ignored; a top-level key matches a
//     struct field exactly or without case by Unicode simple folding (encoding/json/fold.go: foldRune, so "K" (U+212A)
//     is k and "ſ" (U+017F) is s), the last matching key winning; a JSON null leaves a string field as it was; a map
//     field named twice (options) is merged, as Go decodes into the existing map.
//   - vLLM: starlette's request.json(), Python's json.loads(bytes): the encoding by json.detect_encoding (UTF-8, a UTF-8
//     BOM skipped, UTF-16 and UTF-32 by their BOM or NULs), invalid UTF-8 an error, NaN, Infinity and -Infinity read,
//     data after the value an error; a dict: exact keys, the last duplicate winning (pydantic then reads the fields).
//   - llama.cpp: nlohmann::json::parse(body): UTF-8 only (a BOM skipped), invalid UTF-8 and a lone surrogate escape
//     errors, no comments (ignore_comments defaults to false), data after the value an error; exact keys, the last
//     duplicate stored (nlohmann/json discussions #3392).
//   - LM Studio and OpenAI: a JavaScript server, JSON.parse of the text TextDecoder gives (WHATWG replacement, BOM skipped).
// Numbers are JavaScript numbers here: Python's and Go's integers past 2^53 keep digits these lose (no field the broker
// reads depends on them: a limit that large is held as the largest anyway).
//
// Paths (the router's view of the request target's path):
//   - Ollama: Go's net/http unescapes it (url.PathUnescape: a bad escape is 400), then http.DefaultServeMux (Ollama's
//     server.Serve) redirects a path that path.Clean would change (//, /./, /../) with 301 before gin routes it.
//   - vLLM: uvicorn's urllib.parse.unquote (%XX only, bad escapes kept as they are).
//   - llama.cpp: cpp-httplib's decode_path_component: %XX and also %uXXXX (four hex digits, written as UTF-8), so
//     "/models/%u006coad" is routed as /models/load.
//   - LM Studio, OpenAI: as sent.
import { isUtf8 } from "node:buffer";
import type { KindName } from "../../../src/kinds/index.ts";

interface JsonTraits {
  /** How the bytes become text: Go (U+FFFD per invalid byte), strict UTF-8, Python's detect_encoding, or TextDecoder. */
  text: "go" | "utf8" | "python" | "whatwg";
  /** A leading UTF-8 byte-order mark is skipped (else it is a syntax error). */
  bom: boolean;
  /** NaN, Infinity and -Infinity are values. */
  nonFinite: boolean;
  /** Data after the value is ignored (else an error). */
  trailing: boolean;
  /** A lone surrogate escape (\uD800): replaced by U+FFFD, kept, or an error. */
  loneSurrogate: "replace" | "keep" | "refuse";
  /** How a top-level key names a field: Go's folding onto the (lower-case) field names, or exactly. */
  keys: "go-fold" | "exact";
}

const GO: JsonTraits = { text: "go", bom: false, nonFinite: false, trailing: true, loneSurrogate: "replace", keys: "go-fold" };
const PYTHON: JsonTraits = { text: "python", bom: true, nonFinite: true, trailing: false, loneSurrogate: "keep", keys: "exact" };
const NLOHMANN: JsonTraits = { text: "utf8", bom: true, nonFinite: false, trailing: false, loneSurrogate: "refuse", keys: "exact" };
const JAVASCRIPT: JsonTraits = { text: "whatwg", bom: true, nonFinite: false, trailing: false, loneSurrogate: "keep", keys: "exact" };

const JSON_OF: Record<KindName, JsonTraits> = { ollama: GO, vllm: PYTHON, llamacpp: NLOHMANN, lmstudio: JAVASCRIPT, openai: JAVASCRIPT };

/** Ollama's string fields: a JSON null leaves them as they were (Go sets only pointers, maps, slices and interfaces to nil). */
const GO_STRING_FIELDS = new Set(["model", "name", "prompt", "system", "template", "suffix", "source", "destination", "from", "quantize"]);
/** Ollama's map fields: a second one is decoded into the first (Go reuses the map). */
const GO_MAP_FIELDS = new Set(["options"]);

export type BodyReading = { ok: true; value: unknown } | { ok: false; reason: string };

/** The body as `kind`'s server reads it: its top-level fields under the names that server's fields have. */
export function readBodyAs(kind: KindName, bytes: Uint8Array): BodyReading {
  const t = JSON_OF[kind];
  try {
    let text = decodeText(bytes, t);
    if (text.charCodeAt(0) === 0xfeff) {
      if (!t.bom) throw new Error("a byte-order mark before the value");
      text = text.slice(1);
    }
    const p = new Parser(text, t);
    p.space();
    const value = p.value(0);
    p.space();
    if (p.i < text.length && !t.trailing) throw new Error(`data after the value at ${p.i}`);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

function decodeText(b: Uint8Array, t: JsonTraits): string {
  switch (t.text) {
    case "whatwg":
      return new TextDecoder("utf-8", { ignoreBOM: true }).decode(b);
    case "utf8":
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b);
    case "go":
      // Valid UTF-8 reads the same to Go; only bad bytes need its own replacement.
      return isUtf8(b) ? new TextDecoder("utf-8", { ignoreBOM: true }).decode(b) : goUtf8(b);
    case "python":
      return pythonText(b);
  }
}

/** Go's reading of UTF-8 in a JSON string: a byte that does not start a valid sequence is one U+FFFD (utf8.DecodeRune's size 1). */
function goUtf8(b: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    let ok = n > 0 && i + n <= b.length;
    for (let k = 1; ok && k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) ok = false;
    // Overlong and surrogate forms, and past U+10FFFF (the second byte's range per first byte, as Go's acceptRanges).
    if (ok && n >= 3) {
      const s = b[i + 1]!;
      if ((c === 0xe0 && s < 0xa0) || (c === 0xed && s > 0x9f) || (c === 0xf0 && s < 0x90) || (c === 0xf4 && s > 0x8f)) ok = false;
    }
    if (!ok) {
      out += "\ufffd";
      i++;
      continue;
    }
    out += new TextDecoder().decode(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Python's json.loads(bytes): json.detect_encoding, then bytes.decode(encoding, "surrogatepass") (invalid UTF-8 raises). */
function pythonText(b: Uint8Array): string {
  const bom32 = (b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) || (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff);
  if (bom32) return utf32(b.subarray(4), b[0] === 0xff);
  if ((b[0] === 0xfe && b[1] === 0xff) || (b[0] === 0xff && b[1] === 0xfe)) return new TextDecoder(b[0] === 0xff ? "utf-16le" : "utf-16be", { fatal: true }).decode(b.subarray(2));
  if (b.length >= 4) {
    if (b[0] === 0) return b[1] ? new TextDecoder("utf-16be", { fatal: true }).decode(b) : utf32(b, false);
    if (b[1] === 0) return b[2] || b[3] ? new TextDecoder("utf-16le", { fatal: true }).decode(b) : utf32(b, true);
  }
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b);
}

function utf32(b: Uint8Array, le: boolean): string {
  let out = "";
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 4 <= b.length; i += 4) out += String.fromCodePoint(v.getUint32(i, le));
  return out;
}

/** Go's folding of a key onto a lower-case field name: ASCII without case, and the two characters whose fold set holds an ASCII letter. */
export function goFoldKey(key: string): string {
  let out = "";
  for (const ch of key) out += ch === "\u212a" ? "k" : ch === "\u017f" ? "s" : ch.length === 1 && ch >= "A" && ch <= "Z" ? ch.toLowerCase() : ch;
  return out;
}

class Parser {
  i = 0;
  constructor(
    readonly s: string,
    readonly t: JsonTraits,
  ) {}

  space(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i]!)) this.i++;
  }

  fail(what: string): never {
    throw new Error(`${what} at ${this.i}`);
  }

  value(depth: number): unknown {
    const c = this.s[this.i];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    for (const [lit, v] of LITERALS) {
      if (!this.s.startsWith(lit, this.i)) continue;
      if (!Number.isFinite(v as number) && typeof v === "number" && !this.t.nonFinite) this.fail(`${lit} is not JSON`);
      this.i += lit.length;
      return v;
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail("expected a value");
    this.i += m[0].length;
    return Number(m[0]);
  }

  object(depth: number): Record<string, unknown> {
    this.i++;
    const pairs: [string, unknown][] = [];
    this.space();
    if (this.s[this.i] === "}") {
      this.i++;
      return this.build(pairs, depth);
    }
    for (;;) {
      this.space();
      if (this.s[this.i] !== '"') this.fail("expected a key");
      const k = this.string();
      this.space();
      if (this.s[this.i] !== ":") this.fail("expected :");
      this.i++;
      this.space();
      pairs.push([k, this.value(depth + 1)]);
      this.space();
      const c = this.s[this.i++];
      if (c === "}") return this.build(pairs, depth);
      if (c !== ",") this.fail("expected , or }");
    }
  }

  /** The object as the server's code sees it: exact keys, the last duplicate winning; or, for Go's top-level struct, folded. */
  build(pairs: [string, unknown][], depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const go = this.t.keys === "go-fold" && depth === 0;
    for (const [key, v] of pairs) {
      const k = go ? goFoldKey(key) : key;
      if (go && v === null && GO_STRING_FIELDS.has(k)) continue;
      const prev = out[k];
      if (go && GO_MAP_FIELDS.has(k) && isObject(prev) && isObject(v)) out[k] = { ...prev, ...v };
      else Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  array(depth: number): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.space();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      out.push(this.value(depth + 1));
      this.space();
      const c = this.s[this.i++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expected , or ]");
    }
  }

  string(): string {
    this.i++;
    let out = "";
    for (;;) {
      // A run of plain characters at once (a large base64 image is one run).
      PLAIN.lastIndex = this.i;
      PLAIN.test(this.s);
      if (PLAIN.lastIndex > this.i) {
        out += this.s.slice(this.i, PLAIN.lastIndex);
        this.i = PLAIN.lastIndex;
      }
      if (this.i >= this.s.length) this.fail("unterminated string");
      const c = this.s[this.i++]!;
      if (c === '"') return out;
      if (c < " ") this.fail("a control character in a string");
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.s[this.i++];
      const simple = e === undefined ? undefined : ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        continue;
      }
      if (e !== "u") this.fail("a bad escape");
      const unit = this.hex4();
      if (unit >= 0xd800 && unit <= 0xdbff && this.s.startsWith("\\u", this.i)) {
        const save = this.i;
        this.i += 2;
        const low = this.hex4();
        if (low >= 0xdc00 && low <= 0xdfff) {
          out += String.fromCharCode(unit, low);
          continue;
        }
        this.i = save;
      }
      if (unit >= 0xd800 && unit <= 0xdfff) {
        if (this.t.loneSurrogate === "refuse") this.fail("a lone surrogate escape");
        out += this.t.loneSurrogate === "replace" ? "\ufffd" : String.fromCharCode(unit);
      } else out += String.fromCharCode(unit);
    }
  }

  hex4(): number {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail("a bad \\u escape");
    this.i += 4;
    return parseInt(h, 16);
  }
}

const LITERALS: [string, unknown][] = [
  ["true", true],
  ["false", false],
  ["null", null],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
];
const PLAIN = /[^"\\\x00-\x1f]*/y;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The path a kind's router routes on, or the answer its server gives the target itself (a 400 for a bad escape, Go's 301 to the clean path). */
export type PathReading = { path: string } | { status: number; location?: string };

const PATH_OF: Record<KindName, (raw: string, method: string) => PathReading> = {
  ollama: goPath,
  vllm: (raw) => withoutSlash(pythonUnquote(raw), 307),
  llamacpp: (raw) => ({ path: cppHttplibDecode(raw) }),
  lmstudio: (raw) => ({ path: raw }),
  openai: (raw) => ({ path: raw }),
};

export function readPathAs(kind: KindName, raw: string, method = "GET"): PathReading {
  return PATH_OF[kind](raw, method);
}

/**
 * A router's redirect of a trailing slash to the path without it (every route of these servers is spelled without one):
 * gin's RedirectTrailingSlash (Ollama: 301 for a GET, 307 for any other method, gin's redirectRequest) and starlette's
 * redirect_slashes (vLLM: 307, RedirectResponse's default, whatever the method).
 */
function withoutSlash(path: string, status: number): PathReading {
  return path.length > 1 && path.endsWith("/") ? { status, location: path.slice(0, -1) } : { path };
}

/** Go: url.PathUnescape (every %XX, %2F too; a bad escape fails the request), ServeMux's 301 to path.Clean's path, then gin's trailing slash. */
function goPath(raw: string, method: string): PathReading {
  if (/%(?![0-9a-fA-F]{2})/.test(raw)) return { status: 400 };
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "%") {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(raw.charCodeAt(i));
  }
  const path = goUtf8(Uint8Array.from(bytes));
  const clean = goCleanPath(path);
  return clean === path ? withoutSlash(path, method === "GET" ? 301 : 307) : { status: 301, location: clean };
}

/** net/http's cleanPath: path.Clean, keeping a trailing slash. */
function goCleanPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  const clean = "/" + out.join("/");
  return p.endsWith("/") && clean !== "/" ? clean + "/" : clean;
}

/** Python's urllib.parse.unquote: each run of %XX decoded as UTF-8 (errors replaced), anything else kept. */
function pythonUnquote(raw: string): string {
  return raw.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => new TextDecoder().decode(Uint8Array.from(run.slice(1).split("%"), (h) => parseInt(h, 16))));
}

/** cpp-httplib's decode_path_component: %uXXXX (written as UTF-8) and %XX, each byte as it is; a bad escape kept. */
function cppHttplibDecode(raw: string): string {
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "%" && i + 1 < raw.length) {
      if (raw[i + 1] === "u") {
        const h = raw.slice(i + 2, i + 6);
        if (/^[0-9a-fA-F]{4}$/.test(h)) {
          bytes.push(...enc.encode(String.fromCharCode(parseInt(h, 16))));
          i += 5;
          continue;
        }
      } else {
        const h = raw.slice(i + 1, i + 3);
        if (/^[0-9a-fA-F]{2}$/.test(h)) {
          bytes.push(parseInt(h, 16));
          i += 2;
          continue;
        }
      }
    }
    bytes.push(...enc.encode(raw[i]!));
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

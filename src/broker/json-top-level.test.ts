// Unit tests for reading top-level fields as Go's encoding/json matches them, fed bytes (the rules are at the top of json-top-level.ts).
import { describe, expect, test } from "bun:test";
import { NOT_A_STRING, readTopLevel, type TopLevel } from "./json-top-level.ts";

const enc = new TextEncoder();
const read = (s: string | Uint8Array, names = ["model"]): TopLevel => readTopLevel(typeof s === "string" ? enc.encode(s) : s, names);
/** The first field's reading, for an object that parsed. */
function model(s: string | Uint8Array, names = ["model"]) {
  const r = read(s, names);
  if (r.kind !== "object") throw new Error(`not an object: ${JSON.stringify(r)}`);
  return { ...r.fields[0]!, complete: r.complete };
}

describe("top-level keys only", () => {
  test("a plain body, and whitespace wherever JSON allows it", () => {
    expect(model('{"model":"llama3.2:1b","messages":[]}')).toEqual({ exact: 1, variants: [], value: "llama3.2:1b", complete: true });
    expect(model(' \r\n\t{ "model" \n:\t "x" ,"stream" : false }\n').value).toBe("x");
    expect(model('{"prompt":"hi"}')).toEqual({ exact: 0, variants: [], value: undefined, complete: true });
    expect(model("{}").exact).toBe(0);
  });

  test("a model inside options, a message or a nested array is not the model", () => {
    expect(model('{"options":{"model":"allowed"},"model":"other"}').value).toBe("other");
    expect(model('{"messages":[{"role":"user","model":"allowed","content":"x"}],"model":"other"}')).toMatchObject({ exact: 1, value: "other" });
    expect(model('{"x":[[{"model":"a"}],{"y":{"model":"b"}}],"model":"c"}')).toMatchObject({ exact: 1, value: "c" });
    expect(model('{"options":{"model":"allowed"}}')).toMatchObject({ exact: 0, value: undefined });
  });

  test('"model" written inside a string value, with escaped quotes, is text', () => {
    expect(model('{"prompt":"say \\"model\\": \\"x\\"","model":"y"}')).toMatchObject({ exact: 1, value: "y" });
    expect(model('{"prompt":"ends in a backslash \\\\","model":"y"}')).toMatchObject({ exact: 1, value: "y" });
    expect(model('{"prompt":"\\\\\\"model\\\\\\":","model":"z"}')).toMatchObject({ exact: 1, value: "z" });
    expect(model('{"messages":[{"content":"a } ] { [ \\" \\\\"}],"model":"q\\u0041"}').value).toBe("qA");
  });
});

describe("keys as Go decodes and matches them", () => {
  test("the last duplicate is counted, so the caller can refuse it", () => {
    expect(model('{"model":"llama3.2:1b","model":"other"}')).toMatchObject({ exact: 2, value: "other" });
  });

  test("escapes in a key are decoded: \\u006dodel is model", () => {
    expect(model('{"model":"llama3.2:1b","\\u006dodel":"other"}')).toMatchObject({ exact: 2, value: "other" });
    expect(model('{"\\u006d\\u006F\\u0064\\u0065\\u006c":"x"}')).toMatchObject({ exact: 1, value: "x" });
    expect(model('{"mod\\/el":"x","mo\\"del":"y","model":"z"}')).toMatchObject({ exact: 1, value: "z" });
  });

  test("another spelling Go's case folding takes is a variant: ASCII case, escaped or not", () => {
    expect(model('{"model":"llama3.2:1b","MODEL":"other"}')).toMatchObject({ exact: 1, variants: ["MODEL"], value: "llama3.2:1b" });
    expect(model('{"Model":"other"}')).toMatchObject({ exact: 0, variants: ["Model"] });
    expect(model('{"\\u004dODEL":"other"}').variants).toEqual(["MODEL"]);
  });

  test("the non-ASCII characters folded onto ASCII letters: Kelvin sign, long s (Go), dotted and dotless i (whole-string case mapping)", () => {
    // U+212A K folds to k, U+017F ſ to s in every Go; U+0130 İ and U+0131 ı to i when a parser upper- or lower-cases keys.
    const names = ["source", "destination", "keep_alive"];
    const r = read('{"ſource":"a","destınation":"b","\\u212Aeep_alive":1,"DESTİNATION":"c"}', names);
    expect(r.kind === "object" && r.fields.map((f) => f.variants)).toEqual([["ſource"], ["destınation", "DESTİNATION"], ["\u212Aeep_alive"]]);
    // Other non-ASCII letters fold onto no ASCII one: not the field.
    expect(model('{"mödel":"x","modél":"y"}')).toMatchObject({ exact: 0, variants: [] });
    expect(model('{"mode\\u0000l":"x","model ":"y"," model":"z"}')).toMatchObject({ exact: 0, variants: [] });
  });

  test('"_" and "-" are ignored as Go\'s encoding/json/v2 ignores them when it matches without case', () => {
    expect(model('{"mo_del":"a","MO-DEL":"b","_model_":"c","model":"d"}')).toMatchObject({ exact: 1, variants: ["mo_del", "MO-DEL", "_model_"], value: "d" });
    expect(model('{"mo\\\\u005fdel":"x"}').variants).toEqual([]); // an escaped backslash: the key is mo\\u005fdel, not model
    expect(model('{"mo\\u005fdel":"x"}').variants).toEqual(["mo_del"]); // an escaped underscore
    // A key with an escape (or non-ASCII) is decoded first and folded character by character: its "-" is ignored too.
    expect(model('{"mo-\\u0064el":"x","ſo-urce":"y"}', ["model", "source"])).toMatchObject({ exact: 0, variants: ["mo-del"] });
    expect(read('{"ſo-urce":"y"}', ["source"])).toMatchObject({ kind: "object", fields: [{ exact: 0, variants: ["ſo-urce"] }] });
    // Ordinary keys with delimiters are not read as fields: keep_alive, stream_options, top_p.
    expect(model('{"keep_alive":"5m","stream_options":{"include_usage":true},"top_p":1,"model":"m"}')).toEqual({ exact: 1, variants: [], value: "m", complete: true });
  });

  test("only letters fold: a key differing in a non-letter by 0x20 is another key", () => {
    expect(read('{"a_b":1}', ["a\u007fb"])).toMatchObject({ kind: "object", fields: [{ exact: 0, variants: [] }] });
    expect(read('{"x-y":1}', ["x\ry"])).toMatchObject({ kind: "object", fields: [{ exact: 0, variants: [] }] });
  });

  test("several names at once, each with its own reading", () => {
    const r = read('{"source":"a","destination":"b","x":{"source":"c"}}', ["source", "destination"]);
    expect(r).toEqual({
      kind: "object",
      complete: true,
      fields: [
        { exact: 1, variants: [], value: "a" },
        { exact: 1, variants: [], value: "b" },
      ],
    });
  });
});

describe("values", () => {
  test("null, other types, unicode and escapes", () => {
    expect(model('{"model":null}').value).toBeNull();
    expect(model('{"model":3}').value).toBe(NOT_A_STRING);
    expect(model('{"model":{"name":"x"}}').value).toBe(NOT_A_STRING);
    expect(model('{"model":["x"]}').value).toBe(NOT_A_STRING);
    expect(model('{"model":true}').value).toBe(NOT_A_STRING);
    expect(model('{"model":"modèle:日本"}').value).toBe("modèle:日本");
    expect(model('{"model":"a\\u0000b\\n"}').value).toBe("a\u0000b\n");
    // Numbers and literals are skipped (Python's NaN and Infinity are refused: below).
    expect(model('{"t":-1.5e+3,"n":null,"f":false,"model":"m"}').value).toBe("m");
  });

  test("a very long value is skipped by a byte search, not parsed: 20 MB of base64 in an image", () => {
    const image = "A".repeat(20 * 1024 * 1024);
    const body = enc.encode(`{"messages":[{"role":"user","content":"x","images":["${image}"]}],"model":"after","options":{"model":"nested"}}`);
    expect(model(body)).toMatchObject({ exact: 1, value: "after", complete: true });
    const big = enc.encode(`{"model":"m","prompt":"${"\\\"".repeat(1_000_000)}"}`);
    expect(model(big).value).toBe("m");
  });

  test("a long key is not decoded, and cannot be the field", () => {
    expect(model(`{"${"\\u006d".repeat(1000)}":"x","model":"y"}`)).toMatchObject({ exact: 1, variants: [], value: "y" });
  });
});

describe("bodies that are not one JSON object", () => {
  test("empty, arrays, strings, numbers, and non-JSON bodies (multipart) name nothing", () => {
    for (const s of ["", "   ", '[{"model":"x"}]', '"model"', "42", "null", '--boundary\r\nContent-Disposition: form-data; name="model"\r\n\r\nx'])
      expect(read(s)).toEqual({ kind: "not-object" });
  });

  test("a UTF-8 BOM before the object is skipped (Python reads past it; Go refuses the body)", () => {
    expect(model(new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('{"model":"x"}')])).value).toBe("x");
  });

  test("UTF-16 and UTF-32 objects (Python's json.loads reads them by their mark or their NULs) are invalid; other bodies starting with a NUL name nothing", () => {
    const json = '{"model":"x","max_tokens":700}';
    const le = Buffer.from(json, "utf16le");
    const be = Buffer.from(json, "utf16le").swap16();
    const le32 = Buffer.concat([...json].map((c) => Buffer.from([c.charCodeAt(0), 0, 0, 0])));
    const be32 = Buffer.concat([...json].map((c) => Buffer.from([0, 0, 0, c.charCodeAt(0)])));
    const marked = (mark: number[], b: Buffer) => new Uint8Array([...mark, ...b]);
    for (const body of [le, be, le32, be32, marked([0xff, 0xfe], le), marked([0xfe, 0xff], be), marked([0xff, 0xfe, 0, 0], le32), marked([0, 0, 0xfe, 0xff], be32), Buffer.from(" \n" + json, "utf16le").swap16()])
      expect({ ...read(new Uint8Array(body)) }).toEqual({ kind: "invalid", at: 0, reason: expect.stringContaining("UTF-16 or UTF-32") });
    expect(read(new Uint8Array([0, 1, 2, 3]))).toEqual({ kind: "not-object" });
    expect(read(new Uint8Array([0xff, 0xfe, ...Buffer.from("[1]", "utf16le")]))).toEqual({ kind: "not-object" });
  });

  test("NaN, Infinity and -Infinity (Python's json.loads reads them) are invalid wherever they are, at the top or nested", () => {
    for (const s of ['{"model":"x","temperature":NaN}', '{"model":"x","t":-Infinity}', '{"model":"x","t":Infinity}', '{"options":{"top_p":NaN},"model":"x"}', '{"model":"x","logit_bias":[1,[Infinity]]}'])
      expect(read(s)).toMatchObject({ kind: "invalid", reason: expect.stringContaining("NaN and Infinity are not JSON") });
    // In a string they are text.
    expect(model('{"model":"NaN","x":"Infinity","y":{"z":"NaN"}}').value).toBe("NaN");
  });

  test("broken JSON is invalid, with where", () => {
    expect(read('{"model":"a" "x":1}')).toEqual({ kind: "invalid", at: 13, reason: "expected , or } after a value" });
    expect(read("{model:1}")).toMatchObject({ kind: "invalid", reason: "expected a key in quotes" });
    expect(read('{"model" "a"}')).toMatchObject({ kind: "invalid", reason: "expected : after a key" });
    expect(read('{"model":}')).toMatchObject({ kind: "invalid", reason: "expected a value" });
    expect(read('{"a":1"model":"x"}')).toMatchObject({ kind: "invalid" });
    expect(read('{"\\x":1}')).toMatchObject({ kind: "invalid", reason: "a key is not a valid JSON string" });
    expect(read('{"model":"\\q"}')).toMatchObject({ kind: "invalid", reason: "a string value is not valid JSON" });
  });

  test("data after the object is refused (Go would read only the first object, Python and nlohmann refuse it)", () => {
    expect(read('{"model":"a"}{"model":"b"}')).toMatchObject({ kind: "invalid", reason: "data after the JSON object" });
    expect(read('{"model":"a"} x')).toMatchObject({ kind: "invalid" });
    expect(model('{"model":"a"}\n\n').value).toBe("a");
  });

  test("a body cut short (a head of a larger body) says it is incomplete, with what it saw", () => {
    for (const cut of ['{"model":"a","prompt":"x', '{"model":"a","options":{"x":[1,', '{"model":"a"', '{"model":"a",', '{"model":"a","x":tr', '{"mod', "{", '{"model":"a","x"', '{"model":"a","x":'])
      expect(model(cut)).toMatchObject({ complete: false });
    expect(model('{"model":"a","prompt":"x')).toMatchObject({ exact: 1, value: "a", complete: false });
    expect(model('{"model":"a","model":"b", "x": "')).toMatchObject({ exact: 2, value: "b", complete: false });
  });
});

describe("a chosen string value parsers read differently", () => {
  test("invalid UTF-8 (Go: one U+FFFD per bad byte, TextDecoder one per sequence, Python and nlohmann refuse) or a lone surrogate escape (Go: U+FFFD, Python and JSON.parse keep it) is invalid, naming the field; well-formed text is read", () => {
    const bytes = (...parts: (string | number[])[]) => Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...enc.encode(p)] : p)));
    for (const body of [bytes('{"model":"ok', [0xe2, 0x82], '"}'), bytes('{"model":"ok', [0xff], '"}'), bytes('{"model":"', [0xc1, 0xad], '"}'), bytes('{"model":"ok\\ud800"}'), bytes('{"model":"\\udc00ok"}')]) {
      const r = read(body);
      expect(r.kind).toBe("invalid");
      expect(r.kind === "invalid" && r.reason).toContain('"model"');
    }
    // Only the chosen fields: a bad byte elsewhere is the upstream's to judge.
    expect(model(bytes('{"prompt":"', [0xff], '","model":"ok"}')).value).toBe("ok");
    expect(model('{"model":"qwen\u00e9:1b"}').value).toBe("qwen\u00e9:1b");
    expect(model('{"model":"\\ud83d\\ude00"}').value).toBe("\u{1f600}");
    expect(model('{"model":"\\u00e9"}').value).toBe("\u00e9");
  });
});

// Unit tests for the 400 for a generation body whose stream, limits, n or options each upstream would read differently.
import { expect, test } from "bun:test";
import { HttpError } from "../core/http-error.ts";
import { checkActedFields } from "./generation-fields.ts";

const enc = new TextEncoder();
function refused(body: string): string {
  try {
    checkActedFields(enc.encode(body));
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(400);
    return (e as HttpError).message;
  }
  throw new Error(`not refused: ${body}`);
}

test("one spelling of each field passes, whatever else the body holds (nested, in strings, other fields)", () => {
  for (const body of [
    '{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":10,"n":1,"options":{"num_predict":5,"NUM_PREDICT":9}}',
    '{"messages":[{"role":"user","content":"\\"max_tokens\\": 1","max_tokens":1,"STREAM":false}],"max_tokens":700}',
    '{"max_tokens":1,"max_completion_tokens":2,"max_output_tokens":3,"n_predict":4,"num_predict":5,"best_of":2}',
    "not json",
    "[1,2]",
    "",
  ])
    expect(() => checkActedFields(enc.encode(body))).not.toThrow();
  expect(() => checkActedFields(null)).not.toThrow();
});

test("a field named twice, escaped or in another spelling (Go reads it without case, the others do not) is refused, naming it", () => {
  expect(refused('{"stream":true,"STREAM":false}')).toContain('names "stream" also as "STREAM"');
  expect(refused('{"model":"m","MAX_TOKENS":100000}')).toContain('names "max_tokens" also as "MAX_TOKENS"');
  expect(refused('{"max_tokens":600,"max_tokens":100000}')).toBe('the request body has "max_tokens" 2 times; upstreams differ in which one they read, so send it once');
  expect(refused('{"max_tokens":600,"\\u006dax_tokens":100000}')).toContain('"max_tokens" 2 times');
  expect(refused('{"options":{"num_predict":10},"Options":{"num_predict":100000}}')).toContain('names "options" also as "Options"');
  expect(refused('{"stream_options":{},"Stream_Options":{"include_usage":false}}')).toContain('also as "Stream_Options"');
  expect(refused('{"N":50}')).toContain('names "n" also as "N"');
  expect(refused('{"beſt_of":5}')).toContain('names "best_of" also as "beſt_of"');
});

test("a stream given as a string is refused on every generation route (Ollama refuses it, vLLM and llama.cpp read it differently)", () => {
  expect(refused('{"model":"m","stream":"false"}')).toBe('"stream" in the request body must be true or false, not "false": upstreams read it differently (vLLM as true, llama.cpp as false, Ollama refuses it)');
  for (const ok of ['{"stream":false}', '{"stream":true}', '{"stream":null}', '{"model":"m"}']) expect(() => checkActedFields(enc.encode(ok))).not.toThrow();
});

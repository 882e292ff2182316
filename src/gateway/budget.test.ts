// Unit tests for what requests in flight hold of their key's daily token budget.
import { expect, test } from "bun:test";
import { BudgetHolds, DEFAULT_COMPLETION_HOLD, holdFor } from "./budget.ts";

const b = (s: string) => new TextEncoder().encode(s);

test("a request holds its prompt's estimate plus its generation limit, never less than the default", () => {
  expect(holdFor(null, 10)).toBe(10 + DEFAULT_COMPLETION_HOLD);
  expect(holdFor(b('{"model":"m","prompt":"hi"}'), 7)).toBe(7 + DEFAULT_COMPLETION_HOLD);
  expect(holdFor(b('{"model":"m","options":{"num_predict": 4000}}'), 7)).toBe(4007);
  expect(holdFor(b('{"model":"m","max_tokens":2048,"messages":[]}'), 7)).toBe(2055);
  expect(holdFor(b('{"model":"m","max_completion_tokens":3000}'), 0)).toBe(3000);
  // A small limit hidden where the upstream does not read it cannot shrink the hold; the largest one found counts.
  expect(holdFor(b('{"model":"m","tools":[{"max_tokens":1}],"options":{"num_predict":1}}'), 0)).toBe(DEFAULT_COMPLETION_HOLD);
  expect(holdFor(b('{"options":{"num_predict":900},"max_tokens":5000}'), 0)).toBe(5000);
  // Ollama's num_predict -1 (no limit) and a key inside a string are not limits.
  expect(holdFor(b('{"options":{"num_predict":-1},"prompt":"say \\"max_tokens\\": 99999"}'), 0)).toBe(DEFAULT_COMPLETION_HOLD);
});

test("the limit is read as the upstream reads it, not by a byte search: escaped names, numbers in any notation, strings of digits, n copies", () => {
  const hold = (s: string) => holdFor(b(s), 0);
  // An escaped name is the name (every JSON parser unescapes keys); the search for the bytes "max_tokens" missed it.
  expect(hold('{"model":"m","\\u006dax_tokens":100000}')).toBe(100000);
  // Python and nlohmann read 1e5 and 100000.0 as integers; Ollama's options map any number; pydantic reads "100000".
  expect(hold('{"max_tokens":1e5}')).toBe(100000);
  expect(hold('{"max_completion_tokens":100000.0}')).toBe(100000);
  expect(hold('{"options":{"num_predict":7e2}}')).toBe(700);
  expect(hold('{"max_tokens":"100000"}')).toBe(100000);
  // pydantic's lax integers are Python's int(): underscores between digits are left out, so "100_000" is 100000.
  expect(hold('{"max_tokens":"100_000"}')).toBe(100000);
  expect(hold('{"max_completion_tokens":" +1_0_0_0 "}')).toBe(1000);
  expect(hold('{"max_tokens":700,"n":"1_0"}')).toBe(7000);
  expect(hold('{"min_tokens":"5_000"}')).toBe(5000);
  expect(hold('{"max_tokens":9999999999999}')).toBe(2 ** 31);
  // llama.cpp's own limit.
  expect(hold('{"prompt":"hi","n_predict":4096}')).toBe(4096);
  // vLLM generates n answers (best_of when larger), each up to the limit.
  expect(hold('{"max_tokens":1000,"n":8}')).toBe(8000);
  expect(hold('{"max_tokens":1000,"n":2,"best_of":5}')).toBe(5000);
  expect(hold('{"n":4}')).toBe(4 * DEFAULT_COMPLETION_HOLD);
  // llama.cpp's own name for n, which it reads first.
  expect(hold('{"n_predict":1000,"n":1,"n_cmpl":4}')).toBe(4000);
  // A completion's batch (vLLM, llama.cpp): each prompt of the list generates up to the limit, n answers each.
  expect(hold('{"prompt":["a","b","c"],"max_tokens":700}')).toBe(2100);
  expect(hold('{"prompt":[[1,2],[3,4]],"max_tokens":700,"n":2}')).toBe(2800);
  expect(hold('{"prompt":["a",[1,2],{"prompt_string":"b"}],"n_predict":1000}')).toBe(3000);
  // One prompt as token ids (or llama.cpp's mix of ids and text) is one prompt.
  expect(hold('{"prompt":[1,2,3],"max_tokens":700}')).toBe(700);
  expect(hold('{"prompt":[12,"a",34],"max_tokens":700}')).toBe(700);
  expect(hold('{"prompt":[],"max_tokens":700}')).toBe(700);
  // A limit nested where no upstream reads it is not the request's limit (nor are null, booleans, negative numbers).
  expect(hold('{"messages":[{"role":"user","content":[{"type":"text","text":"x","max_tokens":90000}]}]}')).toBe(DEFAULT_COMPLETION_HOLD);
  expect(hold('{"max_tokens":null,"n_predict":-1,"num_predict":true}')).toBe(DEFAULT_COMPLETION_HOLD);
  expect(hold("not json")).toBe(DEFAULT_COMPLETION_HOLD);
});

test("holds add up per key and each is given back once", () => {
  const h = new BudgetHolds();
  const one = h.hold("k", 100);
  const two = h.hold("k", 50);
  h.hold("other", 7);
  expect([h.of("k"), h.of("other"), h.of("none")]).toEqual([150, 7, 0]);
  one();
  one();
  expect(h.of("k")).toBe(50);
  two();
  expect(h.of("k")).toBe(0);
});

test("a request that must generate much holds it: vLLM's min_tokens is a floor, ignore_eos without a limit runs to the context's end", () => {
  const hold = (s: string) => holdFor(b(s), 0);
  expect(hold('{"min_tokens":100000}')).toBe(100000);
  expect(hold('{"max_tokens":200000,"min_tokens":"100000"}')).toBe(200000);
  // ignore_eos (vLLM, llama.cpp) with no limit: every token to the end of the context, so all the budget is held.
  expect(hold('{"ignore_eos":true}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":"yes","n_predict":-1}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":1}')).toBe(2 ** 31);
  // With a limit it generates exactly that many; false in any of pydantic's spellings is no change.
  expect(hold('{"ignore_eos":true,"max_tokens":3000}')).toBe(3000);
  // A limit one of the two servers that take ignore_eos does not read is no limit: vLLM reads neither n_predict,
  // num_predict nor options; llama.cpp takes a string limit as its default (none).
  expect(hold('{"ignore_eos":true,"options":{"num_predict":600}}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":true,"n_predict":600}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":true,"num_predict":600}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":true,"max_tokens":"600"}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":true,"max_completion_tokens":600}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":true,"max_tokens":600,"n_predict":900}')).toBe(900);
  // llama.cpp reads n_predict and max_completion_tokens before max_tokens: -1 there is no limit, whatever max_tokens says.
  expect(hold('{"ignore_eos":true,"max_tokens":600,"n_predict":-1}')).toBe(2 ** 31);
  expect(hold('{"ignore_eos":true,"max_tokens":600,"max_completion_tokens":-1}')).toBe(2 ** 31);
  expect(hold('{"max_tokens":600,"n_predict":-1}')).toBe(600);
  expect(hold('{"ignore_eos":"false"}')).toBe(DEFAULT_COMPLETION_HOLD);
  expect(hold('{"ignore_eos":0}')).toBe(DEFAULT_COMPLETION_HOLD);
});

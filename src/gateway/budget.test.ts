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
  expect(holdFor(b('{"options":{"num_predict":900},"x":{"max_tokens":5000}}'), 0)).toBe(5000);
  // Ollama's num_predict -1 (no limit) and a key inside a string are not limits.
  expect(holdFor(b('{"options":{"num_predict":-1},"prompt":"say \\"max_tokens\\": 99999"}'), 0)).toBe(DEFAULT_COMPLETION_HOLD);
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

// jsonErrorPosition: the line and column a legacy JSON file first goes wrong at, or null for valid JSON.
import { expect, test } from "bun:test";
import { jsonErrorPosition } from "./json-error-position.ts";

test("valid JSON has no error position", () => {
  for (const t of ['{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"], "b": {}}', "[]", ' "s" ', "0"]) {
    expect(JSON.parse(t)).toBeDefined();
    expect(jsonErrorPosition(t)).toBeNull();
  }
});

test("the first bad character, by line and column (what a hand-edited 1.x file gets wrong)", () => {
  const cases: [string, number, number][] = [
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3], // a missing comma
    ['{\n  "a": 1,\n}', 3, 1], // a trailing comma
    ['{"auth_token": sk_live_X}', 1, 16], // a token pasted without quotes
    ["{'a': 1}", 1, 2], // single quotes
    ['{"a": 1', 1, 8], // cut short
    ['{"a": 1} x', 1, 10], // trailing text
    ['{"a": "x\ty"}', 1, 9], // a raw tab in a string
    ['{"a": 01}', 1, 8], // a leading zero
  ];
  for (const [text, line, column] of cases) {
    expect(() => JSON.parse(text)).toThrow();
    expect({ text, at: jsonErrorPosition(text) }).toEqual({ text, at: { line, column } });
  }
});

test("nesting deeper than the bound is reported, not a stack overflow", () => {
  const deep = "[".repeat(100_000);
  expect(jsonErrorPosition(deep)).toEqual({ line: 1, column: 513 });
});

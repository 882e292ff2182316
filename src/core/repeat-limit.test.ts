import { expect, test } from "bun:test";
import { RepeatLimit } from "./repeat-limit.ts";

test("the first of a kind is written, the rest of its window counted, and the next line says how many were left out", () => {
  let t = 0;
  const r = new RepeatLimit(10_000, 64, () => t);
  expect(r.note("unknown token")).toEqual({ write: true, repeated: 0 });
  for (let i = 0; i < 500; i++) expect(r.note("unknown token").write).toBe(false);
  // another kind is its own
  expect(r.note("expired").write).toBe(true);
  t = 10_000;
  expect(r.note("unknown token")).toEqual({ write: true, repeated: 500 });
  expect(r.note("unknown token").write).toBe(false);
  t = 25_000;
  expect(r.note("unknown token")).toEqual({ write: true, repeated: 1 });
});

test("kinds are bounded: a flood of distinct reasons shares one slot past the limit", () => {
  let t = 0;
  const r = new RepeatLimit(10_000, 4, () => t);
  const written = Array.from({ length: 1000 }, (_, i) => r.note(`reason ${i}`).write).filter(Boolean).length;
  expect(written).toBe(5); // four kinds, then "(other)" once
  t = 10_000;
  // Old kinds with nothing left out make room again.
  expect(r.note("fresh").write).toBe(true);
});

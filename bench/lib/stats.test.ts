// The benchmarks' median and percentile.
import { expect, test } from "bun:test";
import { median, pct } from "./stats.ts";

test("median of odd and even counts, percentiles by nearest rank, NaN when empty", () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([])).toBeNaN();
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
  expect(pct(xs, 50)).toBe(50);
  expect(pct(xs, 99)).toBe(99);
  expect(pct(xs, 100)).toBe(100);
  expect(pct(xs, 0)).toBe(1);
  expect(pct([], 50)).toBeNaN();
});

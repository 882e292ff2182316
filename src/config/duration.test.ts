// Unit tests for duration parsing.
import { expect, test } from "bun:test";
import { durationMs, isDuration } from "./duration.ts";

test("parses every unit", () => {
  expect(durationMs("250ms")).toBe(250);
  expect(durationMs("30s")).toBe(30_000);
  expect(durationMs("1.5s")).toBe(1500);
  expect(durationMs("5m")).toBe(300_000);
  expect(durationMs("1h")).toBe(3_600_000);
});

test("rejects what is not a duration", () => {
  expect(isDuration("30")).toBe(false);
  expect(isDuration("s")).toBe(false);
  expect(() => durationMs("ten seconds")).toThrow(/not a duration/);
});

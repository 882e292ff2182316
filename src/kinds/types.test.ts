// Unit tests for which names an upstream gives are taken (listedName): the length and characters docs/broker.md names.
import { expect, test } from "bun:test";
import { listedName, MAX_MODEL_NAME } from "./types.ts";

test("a listed name is taken up to 1024 characters (docs/broker.md), not with a control character or a bidirectional override or isolate", () => {
  expect(MAX_MODEL_NAME).toBe(1024);
  expect(listedName("m".repeat(1024))).toBe(true);
  expect(listedName("m".repeat(1025))).toBe(false);
  expect(listedName("qwen3:8b")).toBe(true);
  for (const bad of ["a\x1b[2Jb", "two\nlines", "tab\there", "del\x7f", "c1\x85", "a\u202Egpj.exe", "a\u202Ab", "a\u2066b\u2069", "", 7, null])
    expect(listedName(bad)).toBe(false);
  // Other scripts and marks are names as any other.
  expect(listedName("模型:7b")).toBe(true);
});

import { expect, test } from "bun:test";
import { BoundedLabels } from "./bounded-labels.ts";

test("each key and caller class keeps its first N values; later ones, on any day, count as the other label", () => {
  const b = new BoundedLabels(2, "(other)");
  expect(b.labelFor("k", "local", "a")).toBe("a");
  expect(b.labelFor("k", "local", "b")).toBe("b");
  expect(b.labelFor("k", "local", "c")).toBe("(other)");
  expect(b.labelFor("k", "local", "a")).toBe("a");
  // Another caller class or key has its own bound.
  expect(b.labelFor("k", "tunnel", "c")).toBe("c");
  expect(b.labelFor("j", "local", "c")).toBe("c");
  // "(other)" itself never takes a slot.
  expect(b.labelFor("j", "local", "(other)")).toBe("(other)");
  expect(b.labelFor("j", "local", "d")).toBe("d");
  expect(b.labelFor("j", "local", "e")).toBe("(other)");
});

test("past the bound a listed value (a model an upstream lists) keeps its own series; made-up ones still share the other", () => {
  const asked: string[] = [];
  const b = new BoundedLabels(2, "(other)", (v) => (asked.push(v), v.startsWith("real-")));
  expect(["x1", "x2", "x3"].map((v) => b.labelFor("k", "local", v))).toEqual(["x1", "x2", "(other)"]);
  expect(b.labelFor("k", "local", "real-a")).toBe("real-a");
  expect(b.labelFor("k", "local", "x4")).toBe("(other)");
  // Asked once per new value past the bound, never for one that has its series.
  b.labelFor("k", "local", "real-a");
  b.labelFor("k", "local", "x1");
  expect(asked).toEqual(["x3", "real-a", "x4"]);
});

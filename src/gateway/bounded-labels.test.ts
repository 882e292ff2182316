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

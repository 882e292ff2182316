// Unit tests for how an upstream's loaded models and reported load read in the status table and the dashboard.
import { expect, test } from "bun:test";
import { capacityText, loadedText } from "./upstream-load.ts";

const at = "2026-01-01T00:00:00Z";

test("loaded models as a count; nothing when the kind does not say", () => {
  expect(loadedText({ loaded: ["a", "b"] })).toBe("2");
  expect(loadedText({ loaded: [] })).toBeNull();
  expect(loadedText({})).toBeNull();
});

test("slots as busy/slots, a queue as running and waiting; nothing when no load is reported", () => {
  expect(capacityText({ capacity: { slots: 4, busy: 1, waiting: null, at } })).toBe("1/4");
  expect(capacityText({ capacity: { slots: 4, busy: null, waiting: null, at } })).toBe("?/4");
  expect(capacityText({ capacity: { slots: null, busy: 3, waiting: 5, at } })).toBe("3 +5 waiting");
  expect(capacityText({ capacity: { slots: null, busy: null, waiting: null, at } })).toBeNull();
  expect(capacityText({ capacity: null })).toBeNull();
  expect(capacityText({})).toBeNull();
});

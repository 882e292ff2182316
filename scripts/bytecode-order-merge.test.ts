import { expect, test } from "bun:test";
import { mergeBytecodeOrders } from "./bytecode-order-merge.ts";

const a = ["v2", "F 1", "F 2", "M 1", "S 1", "K a", "N x", "K b", "N y", ""].join("\n");
const b = ["v2", "F 3", "F 1", "M 2", "S 1", "K c", "N y", "K d", "N z", "K e", ""].join("\n");

test("one profile comes back as it was", () => {
  expect(mergeBytecodeOrders([a])).toBe(a);
});

test("profiles merge section by section, the first's entries first, each once; K lines stay under their N line", () => {
  expect(mergeBytecodeOrders([a, b])).toBe(["v2", "F 1", "F 2", "F 3", "M 1", "M 2", "S 1", "K a", "K c", "N x", "K b", "N y", "K d", "N z", "K e", ""].join("\n"));
});

test("a format it does not know is refused, not guessed at", () => {
  expect(() => mergeBytecodeOrders(["v3\nF 1\n"])).toThrow(/format/);
  expect(() => mergeBytecodeOrders(["v2\nQ 1\n"])).toThrow(/line/);
});

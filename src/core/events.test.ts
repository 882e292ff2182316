// Unit tests for the EventBus: who hears an event type, and that a failing listener does not stop the others.
import { expect, test } from "bun:test";
import { EventBus } from "./events.ts";

test("heard() is true with a listener for the type or for \"*\", and false again once they unsubscribe", () => {
  const bus = new EventBus();
  expect(bus.heard("request.completed")).toBe(false);
  const offType = bus.on("request.completed", () => {});
  expect(bus.heard("request.completed")).toBe(true);
  expect(bus.heard("shutdown")).toBe(false);
  offType();
  const offAll = bus.on("*", () => {});
  expect(bus.heard("request.completed")).toBe(true);
  offAll();
  expect(bus.heard("request.completed")).toBe(false);
});

test("emit reaches the type's listeners, then \"*\" ones, past a listener that throws", () => {
  const bus = new EventBus();
  const got: string[] = [];
  bus.on("*", (e) => got.push(`*:${e.type}`));
  bus.on("shutdown", () => {
    throw new Error("faulty");
  });
  bus.on("shutdown", (e) => got.push(`shutdown:${e.data.reason}`));
  const e = bus.emit("shutdown", { reason: "test" });
  expect(got).toEqual(["shutdown:test", "*:shutdown"]);
  expect(e.seq).toBe(1);
  expect(Number.isNaN(Date.parse(e.time))).toBe(false);
  expect(bus.recent().map((r) => r.seq)).toEqual([1]);
});

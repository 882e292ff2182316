// Receive windows that move: a smaller target withholds credit, a larger one grants it at once, a fixed one behaves as always.
import { describe, expect, test } from "bun:test";
import { RecvWindow } from "./flow-control.ts";

describe("RecvWindow", () => {
  test("a fixed window returns credit once half of it has been read, as every version does", () => {
    const w = new RecvWindow(() => 1000, 1000);
    expect(w.receive(1000)).toBe(true);
    expect(w.receive(1)).toBe(false); // over the credit
    expect(w.consume(499)).toBe(0);
    expect(w.consume(1)).toBe(500);
    expect(w.receive(500)).toBe(true);
  });

  test("a target below the initial window withholds credit until what the peer may send plus what we hold fits it", () => {
    let target = 512 * 1024;
    const w = new RecvWindow(() => target, 512 * 1024);
    target = 32 * 1024;
    // The peer spends its initial credit; we read it all, and no credit goes back until it is down to the new target.
    let granted = 0;
    for (let i = 0; i < 16; i++) {
      expect(w.receive(32 * 1024)).toBe(true);
      granted += w.consume(32 * 1024);
    }
    expect(granted).toBe(32 * 1024);
    expect(w.receive(32 * 1024 + 1)).toBe(false); // the peer now holds exactly the new window
  });

  test("a larger target grants the difference at the next read", () => {
    let target = 64 * 1024;
    const w = new RecvWindow(() => target, 64 * 1024);
    w.receive(1000);
    target = 1024 * 1024;
    expect(w.consume(1000)).toBe(1024 * 1024 - 64 * 1024 + 1000);
    expect(w.receive(1024 * 1024)).toBe(true);
  });
});

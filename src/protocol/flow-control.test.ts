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

  test("withheld credit comes back when the target rises again, and credit returned never exceeds bytes consumed", () => {
    let target = 512 * 1024;
    const w = new RecvWindow(() => target, 512 * 1024);
    let consumed = 0;
    let returned = 0;
    let credit = 512 * 1024; // what the peer may still send, as it sees it
    // A stream whose target moves between the smallest and the initial window while DATA flows and is read.
    for (let i = 0; i < 2000; i++) {
      if (i % 97 === 0) target = [32 * 1024, 512 * 1024, 100_000, 48 * 1024][(i / 97) % 4]!;
      const n = Math.min(credit, 1 + ((i * 7919) % 20_000));
      if (n > 0) {
        expect(w.receive(n)).toBe(true);
        credit -= n;
        const inc = w.consume(n);
        consumed += n;
        returned += inc;
        credit += inc;
      }
      expect(returned).toBeLessThanOrEqual(consumed);
      expect(credit).toBeLessThanOrEqual(512 * 1024);
    }
    target = 512 * 1024;
    w.receive(credit);
    expect(w.consume(credit)).toBe(512 * 1024); // back to the whole initial window
  });
});

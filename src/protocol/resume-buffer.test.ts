// The resume buffer against a plain copy of the body: reading on, forgetting acknowledged bytes, and replaying from back.
import { expect, test } from "bun:test";
import { ResumeBuffer } from "./resume-buffer.ts";

test("from() and dropTo() agree with the body, in any mix of reads, acknowledgements and replays", () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const body: number[] = [];
  const b = new ResumeBuffer();
  let sent = 0;
  for (let step = 0; step < 20_000; step++) {
    const op = rnd(10);
    if (op < 4) {
      const c = Uint8Array.from({ length: 1 + rnd(50) }, () => rnd(256));
      body.push(...c);
      b.push(c);
    } else if (op < 8 && sent < b.end) {
      const c = b.from(sent);
      expect(c.length).toBeGreaterThan(0);
      expect([...c]).toEqual(body.slice(sent, sent + c.length));
      sent += c.length;
    } else if (op === 8) {
      const before = b.start;
      const to = before + rnd(sent - before + 1);
      expect(b.dropTo(to)).toBe(to - before);
      expect(b.start).toBe(to);
    } else {
      // A resume: the relay has everything before some offset we still hold.
      sent = b.start + rnd(sent - b.start + 1);
    }
    expect(b.size).toBe(b.end - b.start);
  }
  expect(b.end).toBe(body.length);
  expect(b.from(b.end).length).toBe(0);
  expect(() => b.from(b.start - 1)).toThrow(RangeError);
});

// The relay's first-byte deadlines: a stream whose request went whole and whose answer's head does not come is reset with
// timeout after the deadline (its head's promise rejects); the clock waits for the upload; a head in time clears it.
import { expect, test } from "bun:test";
import { unwatchFirstByte, watchFirstByte } from "./first-byte-deadlines.ts";
import type { Frame } from "./messages.ts";
import { Stream } from "./stream.ts";

function stream(id = 1) {
  const sent: Frame[] = [];
  return { s: new Stream(id, { sendFrame: (f) => void sent.push(f), release: () => {} }, 1 << 16), sent };
}

test("no head within the deadline after the upload: reset with timeout, and the head's promise rejects with it", async () => {
  const { s, sent } = stream();
  s.end();
  const t0 = performance.now();
  watchFirstByte(s, 100);
  const why = await s.responseHead.then(() => null, (e) => e);
  expect(why?.code).toBe("timeout");
  expect(why?.message).toBe("no response within 100 ms");
  // Late by at most two sweeps of 10 ms (and the timers' own slack).
  expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
  expect(performance.now() - t0).toBeLessThan(400);
  expect(sent.at(-1)).toMatchObject({ type: "RESET", body: { code: "timeout" } });
});

test("the clock starts when the upload is complete; a head in time (unwatched) is never reset", async () => {
  const uploading = stream(1);
  watchFirstByte(uploading.s, 50);
  const answered = stream(3);
  answered.s.end();
  const w = watchFirstByte(answered.s, 50);
  answered.s.onResponseHead({ status: 200, headers: [] });
  unwatchFirstByte(w);
  await Bun.sleep(150);
  expect(uploading.s.failure).toBeNull();
  expect(answered.s.failure).toBeNull();
  uploading.s.end();
  await Bun.sleep(200);
  expect(uploading.s.failure?.code).toBe("timeout");
});

// The bulk collector's rule on a heap the test sizes (the real heap's case runs in tests/tunnel/stream-memory.test.ts).
import { expect, test } from "bun:test";
import { BULK_FRAME_BYTES, bulkCollector, CHECK_BYTES, RELEASE_EVERY, SLACK_BYTES } from "./bulk-gc.ts";

/** A collector over a heap whose size the test sets; a collection brings it back to `live`. */
function fakeHeap() {
  const h = { size: 10 << 20, live: 10 << 20, runs: [] as boolean[] };
  const c = bulkCollector({
    heapSize: () => h.size,
    collect: (release) => {
      h.runs.push(release);
      h.size = h.live;
    },
  });
  return { h, c };
}

test("a transfer whose buffers pile up is collected; one that leaves the heap as it was is not", () => {
  const { h, c } = fakeHeap();
  // A first look sets the floor; DATA that leaves nothing behind: looks, no collection.
  for (let i = 0; i < 5; i++) c.note(CHECK_BYTES);
  expect(h.runs).toEqual([]);
  // Growth under the slack: still none.
  h.size += SLACK_BYTES - 1;
  c.note(CHECK_BYTES);
  expect(h.runs).toEqual([]);
  // Past the slack: one collection.
  h.size += 2;
  c.note(CHECK_BYTES);
  expect(h.runs).toEqual([false]);
  expect(c.stats.collections).toBe(1);
  // Under CHECK_BYTES nothing is looked at, whatever the heap does.
  h.size += 2 * SLACK_BYTES;
  c.note(CHECK_BYTES - 1);
  expect(h.runs.length).toBe(1);
  // Bytes add up across frames: the next frame completes the check.
  c.note(BULK_FRAME_BYTES);
  expect(h.runs.length).toBe(2);
});

test("one collection in RELEASE_EVERY also hands the allocator's pages back", () => {
  const { h, c } = fakeHeap();
  c.note(CHECK_BYTES);
  for (let i = 0; i < 2 * RELEASE_EVERY; i++) {
    h.size += SLACK_BYTES;
    c.note(CHECK_BYTES);
  }
  expect(h.runs.filter(Boolean).length).toBe(2);
  expect(h.runs[RELEASE_EVERY - 1]).toBe(true);
});

test("small frames (token lines, small bodies) are not counted", () => {
  const { h, c } = fakeHeap();
  c.note(CHECK_BYTES);
  h.size += 2 * SLACK_BYTES;
  for (let sent = 0; sent < 2 * CHECK_BYTES; sent += BULK_FRAME_BYTES - 1) c.note(BULK_FRAME_BYTES - 1);
  expect(h.runs).toEqual([]);
});

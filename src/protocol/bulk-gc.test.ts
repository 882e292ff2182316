import { expect, test } from "bun:test";
import { BULK_FRAME_BYTES, bulkGcStats, CHECK_BYTES, noteBulkBytes, SLACK_BYTES } from "./bulk-gc.ts";

test("a transfer whose buffers pile up is collected; one that leaves the heap as it was is not", () => {
  Bun.gc(true);
  // A first look sets the floor.
  noteBulkBytes(CHECK_BYTES);
  const before = bulkGcStats.collections;
  // DATA that leaves nothing behind: looks, no collection.
  for (let i = 0; i < 4; i++) noteBulkBytes(CHECK_BYTES);
  expect(bulkGcStats.collections).toBe(before);
  // Buffers held past the slack (as dead ones JavaScriptCore has not collected yet would be): one collection.
  const held: Uint8Array[] = [];
  for (let i = 0; i < 2 * (SLACK_BYTES >> 20); i++) held.push(new Uint8Array(1 << 20).fill(1));
  noteBulkBytes(CHECK_BYTES);
  expect(bulkGcStats.collections).toBe(before + 1);
  // Under CHECK_BYTES nothing is looked at, whatever the heap does.
  noteBulkBytes(CHECK_BYTES - 1);
  expect(bulkGcStats.collections).toBe(before + 1);
  expect(held.length).toBeGreaterThan(0);
});

test("small frames (token lines, small bodies) are not counted", () => {
  Bun.gc(true);
  noteBulkBytes(CHECK_BYTES);
  const before = bulkGcStats.collections;
  const held: Uint8Array[] = [];
  for (let i = 0; i < 2 * (SLACK_BYTES >> 20); i++) held.push(new Uint8Array(1 << 20).fill(1));
  for (let sent = 0; sent < 2 * CHECK_BYTES; sent += BULK_FRAME_BYTES - 1) noteBulkBytes(BULK_FRAME_BYTES - 1);
  expect(bulkGcStats.collections).toBe(before);
  expect(held.length).toBeGreaterThan(0);
});

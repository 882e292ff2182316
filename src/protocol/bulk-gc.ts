// Collects the garbage of bulk transfers as it is made: every CHECK_BYTES of DATA a tunnel process sends or receives,
// a look at the heap's size (its objects and the buffers they own), and one full collection when it grew by SLACK_BYTES
// since the smallest size seen after the last one.
//
// An upload or a large answer makes garbage in buffers, not in objects: each chunk read from the client, each DATA
// frame encoded, each message received is an ArrayBuffer whose bytes live outside the JS heap's cells. After a burst
// of small requests had grown the heap, JavaScriptCore let those buffers pile up: a 100 MB upload following 16
// connections of small requests left 41 MB of dead buffers in the relay at its end (docs/performance.md, "Footprint").
// A young-generation collection does not free them; a full one does, and Bun.gc(true) also has mimalloc hand the
// pages back. When JavaScriptCore keeps up by itself (no burst before), the heap does not grow and nothing runs here.
// Small frames count too: under 16 connections of small requests through the tunnel, the same look keeps the daemon
// about 15 MiB lower at its peak (interleaved quick runs of bench/footprint.ts, docs/performance.md); requests that
// reach the broker directly never pass here.
import { heapSize } from "bun:jsc";

/** DATA bytes between two looks at the heap (one look costs under a microsecond). */
export const CHECK_BYTES = 1024 * 1024;
/** Growth of the heap, buffers included, that a transfer may leave before it is collected. */
export const SLACK_BYTES = 4 * 1024 * 1024;

let bytes = 0;
let floor = -1;
/** Collections run so far (for tests and benchmarks). */
export const bulkGcStats = { collections: 0 };

/** Counts DATA bytes sent or received; collects once the heap grew by SLACK_BYTES during bulk traffic. */
export function noteBulkBytes(n: number): void {
  bytes += n;
  if (bytes < CHECK_BYTES) return;
  bytes = 0;
  const size = heapSize();
  if (floor < 0 || size < floor) floor = size;
  if (size - floor < SLACK_BYTES) return;
  bulkGcStats.collections++;
  Bun.gc(true);
  floor = heapSize();
}

// Collects the garbage of bulk transfers as it is made: every CHECK_BYTES of DATA a tunnel process sends or receives in
// frames of BULK_FRAME_BYTES or more, a look at the heap's size (its objects and the buffers they own), and one full
// collection when it grew by SLACK_BYTES since the smallest size seen after the last one.
//
// An upload or a large answer makes garbage in buffers, not in objects: each chunk read from the client, each DATA
// frame encoded, each message received is an ArrayBuffer whose bytes live outside the JS heap's cells. After a burst
// of small requests had grown the heap, JavaScriptCore let those buffers pile up: a 100 MB upload following 16
// connections of small requests left 41 MB of dead buffers in the relay at its end (docs/performance.md, "Footprint").
// A young-generation collection does not free them; a full one does, and Bun.gc(true) also has mimalloc hand the
// pages back. When JavaScriptCore keeps up by itself (no burst before), the heap does not grow and nothing runs here.
import { fullGC, heapSize } from "bun:jsc";

/**
 * Frames smaller than this are not bulk and are not counted: token lines and small JSON bodies are the broker's request
 * path, where JavaScriptCore's own pacing is cheaper (counted, small requests through the tunnel read 0.85× and 0.57×
 * e20894b's rate in two of three runs of bench/hot-paths.ts; docs/performance.md).
 */
export const BULK_FRAME_BYTES = 2 * 1024;
/** Bulk DATA bytes between two looks at the heap (one look costs under a microsecond). */
export const CHECK_BYTES = 1024 * 1024;
/** Growth of the heap, buffers included, that a transfer may leave before it is collected. */
export const SLACK_BYTES = 4 * 1024 * 1024;

/** One collection in this many also releases the allocator's free pages. */
export const RELEASE_EVERY = 4;

/** What a bulk collector looks at and does: the heap's size, and a full collection (`release`: pages handed back too). */
export interface BulkGcHooks {
  heapSize(): number;
  collect(release: boolean): void;
}

// Every RELEASE_EVERY-th time also has mimalloc hand back what the collection freed (Bun.gc(true): 4 ms against
// fullGC()'s 0.5 here); in between, the freed buffers are reused for the next ones.
const JSC_HOOKS: BulkGcHooks = { heapSize, collect: (release) => (release ? Bun.gc(true) : fullGC()) };

/** A counter of bulk DATA bytes with its own state; `stats.collections` counts what it ran (tests and benchmarks). */
export function bulkCollector(hooks: BulkGcHooks = JSC_HOOKS): { note(n: number): void; stats: { collections: number } } {
  let bytes = 0;
  let floor = -1;
  const stats = { collections: 0 };
  return {
    stats,
    /** Counts DATA bytes sent or received; collects once the heap grew by SLACK_BYTES during bulk traffic. */
    note(n: number): void {
      if (n < BULK_FRAME_BYTES) return;
      bytes += n;
      if (bytes < CHECK_BYTES) return;
      bytes = 0;
      const size = hooks.heapSize();
      if (floor < 0 || size < floor) floor = size;
      if (size - floor < SLACK_BYTES) return;
      hooks.collect(++stats.collections % RELEASE_EVERY === 0);
      floor = hooks.heapSize();
    },
  };
}

/** The process's collector, fed by every tunnel stream (src/protocol/stream.ts). */
const processCollector = bulkCollector();
export const bulkGcStats = processCollector.stats;
export const noteBulkBytes = processCollector.note;

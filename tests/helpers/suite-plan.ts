// How `npm test` splits the whole suite: the parallel workers, the recorded per-file timings, and the files that run alone.

/** Worker processes for the parallel part. The integration tests mostly wait on the processes they start (the serial
 *  suite averaged a tenth of a core on a 2-core machine), so more workers than cores shortens the run. */
export const WORKERS = 4;

/** Per-file durations `bun test --parallel` uses to start the slowest files first (refresh: `npm test -- --update-timings`). */
export const TIMINGS_FILE = "tests/timings.json";

/** Files that measure one process's memory, allocations or JIT compiles: they run after the parallel part, alone, so
 *  that the load of other files cannot move what they measure. */
export const ALONE_FILES = [
  "tests/tunnel/stream-memory.test.ts",
  "tests/broker/stream-memory.test.ts",
  "tests/broker/upload-rss.test.ts",
  "tests/broker/hot-path-allocations.test.ts",
  "tests/foundation/jit-policy.test.ts",
  "src/protocol/bulk-gc.test.ts",
  // The relay cluster's split test: its promise is a bound in time (the other nodes served again within lease_ttl, 3 s
  // here), and four workers on two cores have left the cut-off node without CPU for long enough to miss it (in two CI
  // runs and a full run of 12-07, never alone, also not under three busy loops): what it checks is the design's bound,
  // not how a starved machine schedules.
  "tests/relay/cluster-split.test.ts",
];

/** True when `npm test` was given no paths or name filters: the whole suite, which is split as above. */
export function isWholeSuite(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-t" || a === "--test-name-pattern") return false;
    if (a.startsWith("--test-name-pattern=") || a.startsWith("-t=")) return false;
    if (!a.startsWith("-")) return false;
  }
  return true;
}

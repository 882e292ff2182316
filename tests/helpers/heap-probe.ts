// Preloaded into a daemon (bun --preload) by tests/helpers/alloc-probe.ts: counts the timers the process creates and,
// on SIGUSR2, writes JavaScriptCore's live objects by type and those counts to stderr as one "heap-probe {json}" line.
// Signals come in pairs: the first of each pair collects garbage before counting (the window starts with an empty
// young generation, so the requests between the two fit in it without a collection); the second counts as it is.
import { heapStats } from "bun:jsc";

const timers = { setTimeout: 0, setInterval: 0 };
for (const name of ["setTimeout", "setInterval"] as const) {
  const original = globalThis[name] as (...args: unknown[]) => unknown;
  // A plain function (not a wrapper object): code that compares or stores the timer handle sees Bun's own.
  (globalThis as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
    timers[name]++;
    return original.apply(this, args);
  };
}

let first = true;
process.on("SIGUSR2", () => {
  if (first) Bun.gc(true);
  first = !first;
  const h = heapStats();
  process.stderr.write(`heap-probe ${JSON.stringify({ timers, objects: h.objectTypeCounts })}\n`);
});

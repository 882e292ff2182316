import { expect, test } from "bun:test";
import { idleGcStats, idleGcTiming, noteActivity } from "./idle-gc.ts";

// Shortened: the defaults (1.5 s, 30 s) behave the same, slower.
idleGcTiming.quietMs = 200;
idleGcTiming.shrinkMs = 1500;
/** Room for a late timer on a busy machine. */
const LATE_MS = 400;
const QUIET_MS = idleGcTiming.quietMs;
const SHRINK_MS = idleGcTiming.shrinkMs;

test("a collection QUIET_MS after the last activity; a shrink SHRINK_MS after it, unless activity came in between", async () => {
  const c0 = idleGcStats.collections;
  const s0 = idleGcStats.shrinks;
  noteActivity();
  await Bun.sleep(QUIET_MS + LATE_MS);
  expect(idleGcStats.collections).toBe(c0 + 1);
  expect(idleGcStats.shrinks).toBe(s0);
  // Activity before the shrink: no shrink for that quiet spell, a new collection after this one.
  noteActivity();
  await Bun.sleep(QUIET_MS + LATE_MS);
  expect(idleGcStats.collections).toBe(c0 + 2);
  expect(idleGcStats.shrinks).toBe(s0);
  // SHRINK_MS after the second activity, and LATE_MS more.
  await Bun.sleep(SHRINK_MS - QUIET_MS);
  expect(idleGcStats.shrinks).toBe(s0 + 1);
  // Nothing more without activity: an idle process has no timer of ours.
  await Bun.sleep(QUIET_MS + LATE_MS);
  expect(idleGcStats.collections).toBe(c0 + 2);
  expect(idleGcStats.shrinks).toBe(s0 + 1);
});

import { expect, test } from "bun:test";
import { idleGcStats, noteActivity, QUIET_MS, SHRINK_MS } from "./idle-gc.ts";

test("a collection QUIET_MS after the last activity; a shrink SHRINK_MS after it, unless activity came in between", async () => {
  const c0 = idleGcStats.collections;
  const s0 = idleGcStats.shrinks;
  noteActivity();
  await Bun.sleep(QUIET_MS + 300);
  expect(idleGcStats.collections).toBe(c0 + 1);
  expect(idleGcStats.shrinks).toBe(s0);
  // Activity before the shrink: no shrink for that quiet spell, a new collection after this one.
  noteActivity();
  await Bun.sleep(QUIET_MS + 300);
  expect(idleGcStats.collections).toBe(c0 + 2);
  expect(idleGcStats.shrinks).toBe(s0);
  await Bun.sleep(SHRINK_MS - QUIET_MS);
  expect(idleGcStats.shrinks).toBe(s0 + 1);
  // Nothing more without activity: an idle process has no timer of ours.
  await Bun.sleep(QUIET_MS + 300);
  expect(idleGcStats.collections).toBe(c0 + 2);
  expect(idleGcStats.shrinks).toBe(s0 + 1);
}, 20_000);

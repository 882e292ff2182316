// Collects garbage once the process has gone quiet: a full collection between bursts instead of during one, and the
// memory of the last burst handed back (Bun.gc also returns mimalloc's free pages) while nothing is waiting for it.
//
// Requests call noteActivity(); QUIET_MS after the last of them, one Bun.gc(true) runs. SHRINK_MS after the last of
// them, if nothing came in between, one Bun.shrink() follows: it also drops the JIT's compiled code and has the
// allocators hand back what they kept for reuse, which a collection alone does not (docs/performance.md, "Footprint":
// 9–10 MiB of a tunnel daemon's memory after a burst). An idle process has no timer at all (each timeout is armed by
// activity and neither re-arms itself), so this costs idle CPU nothing.

import { jitQuiet, jitServing } from "./jit-policy.ts";

/** Long enough that steady traffic, even one request a second, never meets a collection of ours. */
export const QUIET_MS = 1500;
/**
 * Much longer: a shrink throws away compiled code, which the requests after it compile again (their first second runs
 * slower), so a process that serves a request every so often, or a benchmark's rounds with pauses between them (the
 * tail's are 26 s apart), keeps its code; a minute after a burst (issue 27's figure) it has run.
 */
export const SHRINK_MS = 30_000;

/** The delays in use (tests shorten them). */
export const idleGcTiming = { quietMs: QUIET_MS, shrinkMs: SHRINK_MS };

let lastActivity = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
/** Armed by a quiet collection; cleared by activity before it fires. */
let shrinkTimer: ReturnType<typeof setTimeout> | null = null;
/** Collections and shrinks run so far (for tests and benchmarks). */
export const idleGcStats = { collections: 0, shrinks: 0 };

function check(): void {
  const quietFor = performance.now() - lastActivity;
  if (quietFor < idleGcTiming.quietMs) {
    timer = setTimeout(check, idleGcTiming.quietMs - quietFor);
    timer.unref?.();
    return;
  }
  timer = null;
  idleGcStats.collections++;
  Bun.gc(true);
  shrinkTimer = setTimeout(shrink, idleGcTiming.shrinkMs - idleGcTiming.quietMs);
  shrinkTimer.unref?.();
}

function shrink(): void {
  shrinkTimer = null;
  idleGcStats.shrinks++;
  Bun.shrink();
  jitQuiet();
}

/** Marks activity (a request started or ended); the collection waits until QUIET_MS have passed without any. */
export function noteActivity(): void {
  lastActivity = performance.now();
  jitServing();
  if (shrinkTimer) {
    clearTimeout(shrinkTimer);
    shrinkTimer = null;
  }
  if (timer) return;
  timer = setTimeout(check, idleGcTiming.quietMs);
  timer.unref?.();
}

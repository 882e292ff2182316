// Collects garbage once the process has gone quiet: a full collection between bursts instead of during one, and the
// memory of the last burst handed back (Bun.gc also returns mimalloc's free pages) while nothing is waiting for it.
//
// Requests call noteActivity(); QUIET_MS after the last of them, one Bun.gc(true) runs. An idle process has no timer
// at all (the one timeout is armed by activity and not re-armed by the collection), so this costs idle CPU nothing.

/** Long enough that steady traffic, even one request a second, never meets a collection of ours. */
export const QUIET_MS = 1500;

let lastActivity = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
/** Collections run so far (for tests and benchmarks). */
export const idleGcStats = { collections: 0 };

function check(): void {
  const quietFor = performance.now() - lastActivity;
  if (quietFor < QUIET_MS) {
    timer = setTimeout(check, QUIET_MS - quietFor);
    timer.unref?.();
    return;
  }
  timer = null;
  idleGcStats.collections++;
  Bun.gc(true);
}

/** Marks activity (a request started or ended); the collection waits until QUIET_MS have passed without any. */
export function noteActivity(): void {
  lastActivity = performance.now();
  if (timer) return;
  timer = setTimeout(check, QUIET_MS);
  timer.unref?.();
}

// The relay's first-byte deadlines: one sweep over the streams still waiting for their answer's head, instead of a timer,
// a promise race and a callback per request (a few µs of every request's CPU on the relay at one connection).
import type { Stream } from "./stream.ts";

/** One stream waiting for its answer's head. */
export interface FirstByteWait {
  s: Stream;
  ms: number;
  /** When the sweep first saw its upload complete (the clock starts there: a long upload is not a slow answer); 0 before. */
  since: number;
}

const waiting = new Set<FirstByteWait>();
let sweeper: ReturnType<typeof setInterval> | null = null;
let every = 0;

/**
 * Resets `s` with `timeout` once `ms` passed after its request went whole with no answer head (the head's promise then
 * rejects with that error). Late by at most two sweeps: a tenth of `ms` each, between 10 and 250 ms.
 */
export function watchFirstByte(s: Stream, ms: number): FirstByteWait {
  const w: FirstByteWait = { s, ms, since: 0 };
  waiting.add(w);
  const step = Math.min(250, Math.max(10, Math.floor(ms / 10)));
  if (!sweeper || step < every) {
    if (sweeper) clearInterval(sweeper);
    every = step;
    sweeper = setInterval(sweep, step);
    sweeper.unref?.();
  }
  return w;
}

/** The head came (or the request failed): no deadline any more. */
export function unwatchFirstByte(w: FirstByteWait): void {
  waiting.delete(w);
}

function sweep(): void {
  const now = performance.now();
  for (const w of waiting) {
    if (w.s.done || w.s.failure) {
      waiting.delete(w);
      continue;
    }
    if (!w.s.localDone) continue;
    if (!w.since) w.since = now;
    else if (now - w.since >= w.ms) {
      waiting.delete(w);
      w.s.reset("timeout", `no response within ${w.ms} ms`);
    }
  }
  if (!waiting.size && sweeper) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

// A lock file beside a file that several processes read, change and write back (the keys and secrets files: the daemon and the CLI).
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { processAlive, writeFailure } from "./atomic-write.ts";

/** A lock older than this was left by a process that died holding it (a change takes milliseconds, a slow fsync seconds). */
const STALE_MS = 5_000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** The two clocks the wait reads (src/core/clock.ts' Clock has the same shape; src/config does not import src/core). */
export interface LockClock {
  now(): number;
  monotonic?(): number;
}
const SYSTEM_CLOCK: LockClock = { now: () => Date.now(), monotonic: () => performance.now() };

/**
 * Runs `fn` while holding `<path>.lock`, made with O_EXCL: a read-change-write of `path` by another process waits
 * instead of writing back what it read before this one's change (a key created at the same time lost, a revoked key
 * brought back). Synchronous, as the writes it guards are: a holder keeps it for milliseconds.
 *
 * The wait is measured on the monotonic clock: on the wall clock, one set back (NTP, a user) while waiting kept the
 * caller (the daemon's event loop) spinning for as long as the jump, and one set forward made a live holder's fresh
 * lock look STALE_MS old and broken, two writers at once. The wall clock is read once per lock seen, for its age
 * (a file's mtime is wall time): how long it has been held since is counted on the monotonic clock.
 */
export function withFileLock<T>(path: string, fn: () => T, timeoutMs = STALE_MS + 1000, clock: LockClock = SYSTEM_CLOCK): T {
  const mono = () => clock.monotonic?.() ?? clock.now();
  const lock = `${path}.lock`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw writeFailure(e, path) ?? e;
  }
  const deadline = mono() + timeoutMs;
  // The lock being waited for (its mtime tells one holder's from the next), and since when it is known to be held.
  let seenMtime = NaN;
  let heldSince = 0;
  for (;;) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      try {
        // Who holds it: a waiter breaks the lock of a holder that is gone at once, not after STALE_MS. Best effort:
        // on a full disk the lock is held all the same (empty, broken by its age), and the write it guards says why it fails.
        writeSync(fd, `${process.pid}\n`);
      } catch {}
      closeSync(fd);
      break;
    } catch (e) {
      // A lock that cannot be made (a read-only disk) is a write of `path` that cannot happen: said as such.
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw writeFailure(e, path) ?? e;
    }
    let holder = NaN;
    try {
      const mtime = statSync(lock).mtimeMs;
      holder = Number.parseInt(readFileSync(lock, "utf8"), 10);
      if (mtime !== seenMtime) {
        seenMtime = mtime;
        heldSince = mono() - Math.max(0, clock.now() - mtime);
      }
    } catch {
      continue; // released just now
    }
    const now = mono();
    // A holder killed mid-change (SIGKILL) would otherwise stall every change, and the daemon's event loop, for STALE_MS.
    if (now - heldSince > STALE_MS || (holder > 0 && holder !== process.pid && !processAlive(holder))) rmSync(lock, { force: true });
    else if (now > deadline) throw new Error(`${lock} is held by another process; delete it if no cloudtolocalllm-tunnel is running`);
    else Atomics.wait(pause, 0, 0, 2);
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

// The lock file: held for the change only, released when it throws, a crashed holder's lock broken, a live one waited for.
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withFileLock } from "./file-lock.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const fileIn = () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-lock-"));
  dirs.push(d);
  return join(d, "keys.json");
};

test("the lock is held while the change runs and released after it, also when it throws", () => {
  const file = fileIn();
  expect(withFileLock(file, () => existsSync(`${file}.lock`))).toBe(true);
  expect(existsSync(`${file}.lock`)).toBe(false);
  expect(() => withFileLock(file, () => {
    throw new Error("boom");
  })).toThrow("boom");
  expect(existsSync(`${file}.lock`)).toBe(false);
});

test("a lock left by a process that died is broken; one held now is waited for, then named in the error", () => {
  const file = fileIn();
  writeFileSync(`${file}.lock`, "");
  const old = (Date.now() - 60_000) / 1000;
  utimesSync(`${file}.lock`, old, old);
  expect(withFileLock(file, () => "ran")).toBe("ran");
  writeFileSync(`${file}.lock`, "");
  expect(() => withFileLock(file, () => "ran", 50)).toThrow(`${file}.lock is held by another process`);
});

test("a fresh lock whose holder is gone (killed mid-change) is broken at once; a live holder's is waited for", () => {
  const file = fileIn();
  const dead = Bun.spawnSync(["true"]).pid;
  writeFileSync(`${file}.lock`, `${dead}\n`);
  // Before: waited until the lock was STALE_MS old (the daemon's event loop stalled with it), here past the deadline.
  expect(withFileLock(file, () => "ran", 1000)).toBe("ran");
  expect(existsSync(`${file}.lock`)).toBe(false);
  writeFileSync(`${file}.lock`, "1\n"); // pid 1 runs
  expect(() => withFileLock(file, () => "ran", 50)).toThrow(`${file}.lock is held by another process`);
});

test("a wall clock set forward while waiting does not make a live holder's fresh lock look stale (it is waited for, not broken)", () => {
  const file = fileIn();
  writeFileSync(`${file}.lock`, "1\n"); // pid 1 runs: a live holder, its lock just made
  // What a clock set an hour on (NTP, a user) looks like to this process: every read after the first is an hour later.
  const realNow = Date.now;
  let reads = 0;
  Date.now = () => realNow() + (reads++ > 0 ? 3_600_000 : 0);
  try {
    // Before: the lock's age read an hour, past STALE_MS: the live holder's lock was removed and this change ran beside it.
    expect(() => withFileLock(file, () => "ran", 50)).toThrow(`${file}.lock is held by another process`);
  } finally {
    Date.now = realNow;
  }
  expect(existsSync(`${file}.lock`)).toBe(true);
});

test("a wall clock set back while waiting does not stretch the wait: the deadline is on the monotonic clock", () => {
  const file = fileIn();
  writeFileSync(`${file}.lock`, "1\n");
  let wall = Date.now();
  let monoReads = 0;
  // Each monotonic read is 10 ms on; the wall clock goes an hour back at every read.
  const clock = { now: () => (wall -= 3_600_000), monotonic: () => 10 * monoReads++ };
  expect(() => withFileLock(file, () => "ran", 50, clock)).toThrow(`${file}.lock is held by another process`);
  expect(monoReads).toBeLessThan(20);
});

// The relay's share of the event loop: a socket whose messages take more than their share of a window is paused until
// the window ends; one within it is never paused.
import { expect, test } from "bun:test";
import { READ_SHARE_MS, READ_WINDOW_MS, ReadShare } from "./read-share.ts";

function rig() {
  let t = 1_000;
  const calls: string[] = [];
  const timers: { at: number; fn: () => void }[] = [];
  const share = new ReadShare(
    { pause: () => calls.push(`pause@${t}`), resume: () => calls.push(`resume@${t}`) },
    () => t,
    (fn, ms) => timers.push({ at: t + ms, fn }),
  );
  /** A message that took `ms` to handle. */
  const message = (ms: number) => {
    const since = t;
    t += ms;
    share.spent(since);
  };
  /** Moves the clock to `at`, firing the timers due. */
  const advanceTo = (at: number) => {
    t = at;
    for (const x of timers.splice(0)) if (x.at <= at) x.fn();
      else timers.push(x);
  };
  return { share, calls, message, advanceTo, now: () => t };
}

test("messages that take less than their share of each window never pause the relay's socket", () => {
  const r = rig();
  // 10 % of every window, for 50 windows.
  for (let w = 0; w < 50; w++) {
    for (let i = 0; i < 10; i++) r.message(1);
    r.advanceTo(r.now() + READ_WINDOW_MS - 10);
  }
  expect(r.calls).toEqual([]);
});

test("a flood that takes more than its share pauses the socket until its window ends, then reads again with a fresh share", () => {
  const r = rig();
  // 1 ms a message: the share is spent after READ_SHARE_MS of them; the next one pauses.
  for (let i = 0; i <= READ_SHARE_MS; i++) r.message(1);
  const start = 1_000;
  expect(r.calls).toEqual([`pause@${start + READ_SHARE_MS + 1}`]);
  expect(r.share.holding).toBe(true);
  // Messages already read while pausing still count, and pause nothing twice.
  r.message(1);
  expect(r.calls.length).toBe(1);
  r.advanceTo(start + READ_WINDOW_MS);
  expect(r.calls).toEqual([`pause@${start + READ_SHARE_MS + 1}`, `resume@${start + READ_WINDOW_MS}`]);
  expect(r.share.holding).toBe(false);
  // A fresh window: a little reading is fine again.
  for (let i = 0; i < READ_SHARE_MS - 1; i++) r.message(1);
  expect(r.calls.length).toBe(2);
});

// Unit tests for a relay node's per-tunnel requests per minute (the streams' share: client-share.test.ts).
import { expect, test } from "bun:test";
import { TunnelLimits } from "./limits.ts";

test("requests_per_minute: at most that many in any 60 seconds, a burst included; Retry-After until the oldest leaves", () => {
  let now = 1_000_000;
  const lim = new TunnelLimits(3, 64, () => now);
  expect([lim.admitRate("c"), lim.admitRate("c"), lim.admitRate("c")]).toEqual([null, null, null]);
  expect(lim.admitRate("c")).toEqual({ seconds: 60, client: false });
  // 20 s on: a token bucket would have refilled one request; the minute still holds three.
  now += 20_000;
  expect(lim.admitRate("c")).toEqual({ seconds: 40, client: false });
  now += 39_999;
  expect(lim.admitRate("c")).toEqual({ seconds: 1, client: false });
  // The burst leaves the window together, 60 s after it came.
  now += 1;
  expect([lim.admitRate("c"), lim.admitRate("c"), lim.admitRate("c"), lim.admitRate("c")]).toEqual([null, null, null, { seconds: 60, client: false }]);
});

test("requests_per_minute: a steady stream at the limit passes, and no 60 s ever holds more than the limit", () => {
  let now = 0;
  const perMinute = 600;
  // One client allowed the whole minute (by default it gets three quarters of it: client-rate.test.ts).
  const lim = new TunnelLimits(perMinute, 64, () => now, { perMinute });
  const admitted: number[] = [];
  // Twice the limit's pace for three minutes.
  for (; now < 180_000; now += 50) if (lim.admitRate("c") === null) admitted.push(now);
  for (let i = 0; i + perMinute < admitted.length; i++) expect(admitted[i + perMinute]! - admitted[i]!).toBeGreaterThanOrEqual(60_000);
  expect(admitted.length).toBe(3 * perMinute);
});

test("requests_per_minute: a clock set back does not hold the tunnel's window shut until it catches up", () => {
  let now = 10_000_000;
  const lim = new TunnelLimits(2, 64, () => now);
  expect([lim.admitRate("c"), lim.admitRate("c"), lim.admitRate("c")]).toEqual([null, null, { seconds: 60, client: false }]);
  now -= 3_600_000;
  expect(lim.admitRate("c")).toBeNull();
});

// Unit tests for a relay node's per-tunnel requests per minute (the streams' share: client-share.test.ts).
import { expect, test } from "bun:test";
import { TunnelLimits, TunnelLimitsTable } from "./limits.ts";

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

test("the limits of 10,000 tunnels called once (one per signed-in user) are dropped once quiet for a minute, by the next new tunnel's call", () => {
  let now = 5_000_000;
  // One client allowed the whole minute, so the busy tunnel below fills it.
  const table = new TunnelLimitsTable(() => new TunnelLimits(600, 8, () => now, { perMinute: 600 }), () => now);
  for (let i = 0; i < 10_000; i++) expect(table.get(`u${i}`).admitRate("c")).toBeNull();
  expect(table.size).toBe(10_000);
  // A tunnel still in its minute keeps its count: it is not swept, nor its limit reset.
  now += 30_000;
  const busy = table.get("busy");
  for (let i = 0; i < 600; i++) busy.admitRate("c");
  now += 30_001;
  table.get("new-1");
  expect(table.size).toBe(2);
  expect(table.get("busy")).toBe(busy);
  expect(busy.admitRate("c")).toEqual({ seconds: 30, client: false });
  // Within the minute after a sweep, new tunnels are only added (no scan per call); the next minute's first sweeps again.
  for (let i = 0; i < 100; i++) table.get(`v${i}`);
  expect(table.size).toBe(102);
  now += 60_000;
  table.get("new-2");
  expect(table.size).toBe(1);
});

test("a quiet tunnel's limits are kept while it holds a stream, or a call waits for one", async () => {
  let now = 5_000_000;
  const table = new TunnelLimitsTable(() => new TunnelLimits(600, 1, () => now), () => now);
  const lim = table.get("t");
  expect(lim.streams.admit("a")).toBe("admitted");
  // The tunnel's one stream is taken: another client's call waits for it.
  expect(lim.streams.admit("b")).toBe("full");
  const gone = new AbortController();
  const waiting = lim.streams.wait("b", 600_000, gone.signal);
  lim.streams.release("a");
  expect(await waiting).toBe(true);
  now += 120_000;
  table.get("other-1");
  expect(table.get("t")).toBe(lim);
  // Held by b, and a call of c waiting behind it.
  expect(lim.streams.admit("c")).toBe("full");
  const second = lim.streams.wait("c", 600_000, gone.signal);
  lim.streams.release("b");
  expect(await second).toBe(true);
  now += 60_000;
  table.get("other-2");
  expect(table.get("t")).toBe(lim);
  lim.streams.release("c");
  now += 60_000;
  table.get("other-3");
  expect(table.size).toBe(1);
  expect(table.get("t")).not.toBe(lim);
});

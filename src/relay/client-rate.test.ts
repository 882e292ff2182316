// Each client's share of a tunnel's requests per minute on one node, and the tunnel's own minute around it (limits.ts).
import { expect, test } from "bun:test";
import { ClientRates } from "./client-rate.ts";
import { TunnelLimits } from "./limits.ts";

test("a client alone spends at most its share of the minute; the rest is another client's, and the refusal says whose limit it was", () => {
  let now = 0;
  const lim = new TunnelLimits(8, 8, () => now);
  const flood = Array.from({ length: 10 }, () => lim.admitRate("flood"));
  expect(flood.filter((r) => r === null).length).toBe(6);
  expect(flood[6]).toEqual({ seconds: 10, client: true });
  expect([lim.admitRate("editor"), lim.admitRate("editor")]).toEqual([null, null]);
  // The tunnel's minute is a sliding window: full until its oldest request is a minute old.
  expect(lim.admitRate("third")).toEqual({ seconds: 60, client: false });
  now = 10_000;
  expect(lim.admitRate("flood")).toEqual({ seconds: 50, client: false });
  // A minute on, the window has room again and the share has refilled.
  now = 60_000;
  expect(lim.admitRate("flood")).toBeNull();
});

test("a configured share is used (at most the tunnel's limit); a client's bucket is dropped once it refilled", () => {
  let now = 0;
  expect(new ClientRates(600, 10).perClient).toBe(10);
  expect(new ClientRates(600, 9999).perClient).toBe(600);
  const r = new ClientRates(600, 0, () => now);
  expect(r.perClient).toBe(450);
  for (let i = 0; i < 100; i++) r.take(`made-up-${i}`);
  expect(r.size).toBe(100);
  now = 61_000;
  r.take("a");
  // The sweep ran: the made-up clients' buckets refilled and are gone; "a" keeps its own.
  expect(r.size).toBe(1);
  expect(r.check("a")).toBeNull();
});

// Each client's share of a tunnel's requests per minute on one node, and the tunnel's own minute around it (limits.ts).
import { expect, test } from "bun:test";
import { ClientRates } from "./client-rate.ts";
import { TunnelLimits, type RateRefusal } from "./limits.ts";

test("a client alone spends at most its share of the minute; the rest is another client's, and the refusal says whose limit it was", () => {
  let now = 0;
  const lim = new TunnelLimits(8, 8, () => now);
  const flood = Array.from({ length: 10 }, () => lim.admitRate("flood"));
  expect(flood.filter((r) => r === null).length).toBe(6);
  expect(flood[6]).toEqual({ seconds: 60, client: true });
  expect([lim.admitRate("editor"), lim.admitRate("editor")]).toEqual([null, null]);
  // The tunnel's minute is a sliding window: full until its oldest request is a minute old.
  expect(lim.admitRate("third")).toEqual({ seconds: 60, client: false });
  now = 10_000;
  expect(lim.admitRate("flood")).toEqual({ seconds: 50, client: false });
  // A minute on, the tunnel's window and the client's have room again.
  now = 60_000;
  expect(lim.admitRate("flood")).toBeNull();
});

test("a configured share is used (at most the tunnel's limit); a client's window is dropped once it emptied", () => {
  let now = 0;
  expect(new ClientRates(600, 10).perClient).toBe(10);
  expect(new ClientRates(600, 9999).perClient).toBe(600);
  const r = new ClientRates(600, 0, () => now);
  expect(r.perClient).toBe(450);
  for (let i = 0; i < 100; i++) r.take(`made-up-${i}`);
  expect(r.size).toBe(100);
  now = 61_000;
  r.take("a");
  // The sweep ran: the made-up clients' windows emptied and are gone; "a" keeps its own.
  expect(r.size).toBe(1);
  expect(r.check("a")).toBeNull();
});

test("a client that spent its share at once gets no more of it within that minute: the quarter kept for the others stays theirs", () => {
  // docs/relay.md: no client "makes more than requests_per_minute_per_client of the tunnel's requests_per_minute". A
  // token bucket gave the flood one more every 10 s (8 a minute, 6 each), so by 20 s it held the whole tunnel's minute.
  let now = 0;
  const lim = new TunnelLimits(8, 8, () => now);
  for (let i = 0; i < 6; i++) expect(lim.admitRate("flood")).toBeNull();
  const later: (RateRefusal | null)[] = [];
  for (now = 5_000; now < 59_000; now += 5_000) later.push(lim.admitRate("flood"));
  expect(later.every((r) => r?.client === true)).toBe(true);
  // The refusal says when the share has room: when its oldest call is a minute old.
  expect(later.at(-1)).toEqual({ seconds: 5, client: true });
  expect([lim.admitRate("editor"), lim.admitRate("editor")]).toEqual([null, null]);
  // In any 60 s the flood had 6, not more; at 60 s its first calls left the window.
  now = 60_000;
  expect(lim.admitRate("flood")).toBeNull();
});

import { expect, test } from "bun:test";
import { AccessRequests, newCode, normalizeCode } from "./access-requests.ts";

function table(opts: { maxPending?: number; perMinute?: number } = {}) {
  let t = 1_000_000;
  const a = new AccessRequests({ ttlMs: 120_000, now: () => t, ...opts });
  return { a, advance: (ms: number) => (t += ms) };
}

test("an approved request is claimed once, by the secret that asked; the code alone gets nothing", () => {
  const { a } = table();
  const r = a.ask();
  if (!r.ok) throw new Error(r.reason);
  expect(r.code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  expect(a.claim(r.secret).state).toBe("pending");
  // A guess at the code is refused; the request stays pending.
  expect(a.approve(r.code === "AAAA-AAAA" ? "BBBB-BBBB" : "AAAA-AAAA")).toBe(false);
  expect(a.claim(r.secret).state).toBe("pending");
  // Typed loosely: lower case, without the dash.
  expect(a.approve(r.code.toLowerCase().replace("-", " "))).toBe(true);
  // One-time: approving again does nothing, and claiming with the code instead of the secret gets nothing.
  expect(a.approve(r.code)).toBe(false);
  expect(a.claim(r.code).state).toBe("gone");
  expect(a.claim(r.secret).state).toBe("approved");
  expect(a.claim(r.secret).state).toBe("gone");
});

test("requests expire after the ttl, approved or not; an expired code cannot be approved", () => {
  const { a, advance } = table();
  const r1 = a.ask();
  const r2 = a.ask();
  if (!r1.ok || !r2.ok) throw new Error("refused");
  expect(a.approve(r2.code)).toBe(true);
  advance(120_001);
  expect(a.approve(r1.code)).toBe(false);
  expect(a.claim(r1.secret).state).toBe("gone");
  expect(a.claim(r2.secret).state).toBe("gone");
  expect(a.waiting()).toEqual([]);
});

test("bounded: a few waiting at once, a few per minute; a denied request is gone", () => {
  const { a, advance } = table({ maxPending: 2, perMinute: 3 });
  const r1 = a.ask();
  const r2 = a.ask();
  expect(r1.ok && r2.ok).toBe(true);
  const r3 = a.ask();
  expect(r3.ok ? "" : r3.reason).toContain("waiting");
  if (!r1.ok) throw new Error();
  expect(a.deny(r1.code)).toBe(true);
  expect(a.claim(r1.secret).state).toBe("gone");
  expect(a.ask().ok).toBe(true); // the third this minute
  expect(a.deny(a.waiting()[0]!.code)).toBe(true);
  const r5 = a.ask();
  expect(r5.ok ? "" : r5.reason).toContain("last minute");
  advance(61_000);
  // A minute later the rate allows again (one request still waits, below the two allowed).
  expect(a.ask().ok).toBe(true);
});

test("codes use an alphabet without look-alikes; normalizeCode reads what a person types", () => {
  for (let i = 0; i < 50; i++) expect(newCode()).toMatch(/^[ABCDEFGHJKMNPQRSTVWXYZ2-9]{4}-[ABCDEFGHJKMNPQRSTVWXYZ2-9]{4}$/);
  expect(normalizeCode(" k7qm3xhd ")).toBe("K7QM-3XHD");
  expect(normalizeCode("K7QM-3XHD")).toBe("K7QM-3XHD");
});

test("the defaults docs/api.md names: a request expires after 2 minutes, 4 wait at once, 6 are made a minute", () => {
  let t = 1_000_000;
  const a = new AccessRequests({ now: () => t });
  const first = a.ask();
  if (!first.ok) throw new Error(first.reason);
  expect(first.expiresAt - t).toBe(120_000);
  for (let i = 0; i < 3; i++) expect(a.ask().ok).toBe(true);
  const fifth = a.ask();
  expect(fifth.ok ? "" : fifth.reason).toContain("waiting");
  // Two denied make room: the fifth and sixth of this minute are made, the seventh is refused by the rate.
  for (const w of a.waiting().slice(0, 2)) a.deny(w.code);
  expect([a.ask().ok, a.ask().ok]).toEqual([true, true]);
  for (const w of a.waiting()) a.deny(w.code);
  const seventh = a.ask();
  expect(seventh.ok ? "" : seventh.reason).toContain("last minute");
  t += 61_000;
  expect(a.ask().ok).toBe(true);
});

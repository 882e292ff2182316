// Unit tests for when a session is due for a refresh: refresh_before ahead of expiry, at half the life for short tokens.
import { expect, test } from "bun:test";
import { refreshDueAt } from "./manager.ts";

const T = 1_000_000;

test("a long token is refreshed refresh_before ahead of its expiry", () => {
  expect(refreshDueAt({ issuedAt: T, expiresAt: T + 3_600_000 }, 60_000, T)).toBe(T + 3_540_000);
});

test("a token shorter than twice refresh_before is refreshed at half its life (30 s token, 60 s lead: after 15 s)", () => {
  expect(refreshDueAt({ issuedAt: T, expiresAt: T + 30_000 }, 60_000, T)).toBe(T + 15_000);
  // The same answer however late it is asked: the life is the token's, not what is left of it.
  expect(refreshDueAt({ issuedAt: T, expiresAt: T + 30_000 }, 60_000, T + 20_000)).toBe(T + 15_000);
});

test("a session stored before issuedAt existed counts its life from when it was loaded; no expiry, no refresh", () => {
  expect(refreshDueAt({ expiresAt: T + 30_000 }, 60_000, T)).toBe(T + 15_000);
  expect(refreshDueAt({ expiresAt: null }, 60_000, T)).toBe(Infinity);
});

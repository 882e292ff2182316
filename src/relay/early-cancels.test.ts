// A tunnel's calls aborted before their answer: a bucket at half the agent's rapid-reset budget, and only the clients
// that aborted lately refused once it is spent.
import { expect, test } from "bun:test";
import { EARLY_BURST, EARLY_PER_SECOND, EarlyCancels } from "./early-cancels.ts";

test("calls aborted before their answer are free up to the burst; past it the client that aborted them is refused until the bucket refills, and another client is not", () => {
  let now = 1_000;
  const e = new EarlyCancels(() => now);
  for (let i = 0; i < EARLY_BURST - 1; i++) e.note("flood");
  expect(e.refusal("flood")).toBe(0);
  e.note("flood");
  // Spent: the client that aborted waits for a token to come back; one that did not abort goes on.
  expect(e.refusal("flood")).toBe(1);
  expect(e.refusal("editor")).toBe(0);
  // Aborts past the burst (calls already in flight) push the wait out, up to as long again.
  for (let i = 0; i < 10 * EARLY_BURST; i++) e.note("flood");
  expect(e.refusal("flood")).toBe(Math.ceil((EARLY_BURST + 1) / EARLY_PER_SECOND));
  now += Math.ceil((EARLY_BURST + 1) / EARLY_PER_SECOND) * 1000;
  expect(e.refusal("flood")).toBe(0);
});

test("a client that aborted long ago is not refused, and a crowd of clients leaves no more than a few hundred entries", () => {
  let now = 0;
  const e = new EarlyCancels(() => now);
  e.note("old");
  now += 3_000;
  for (let i = 0; i < EARLY_BURST + 1_000; i++) e.note(`c${i}`);
  expect(e.refusal("old")).toBe(0);
  expect(e.refusal(`c${EARLY_BURST + 999}`)).toBeGreaterThan(0);
  expect((e as unknown as { recent: Map<string, number> }).recent.size).toBeLessThanOrEqual(256);
});

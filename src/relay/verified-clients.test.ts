// VerifiedClients: a gateway key names a client for the minute only once the agent served a call with it.
import { expect, test } from "bun:test";
import { isWholeKey, VerifiedClients } from "./verified-clients.ts";

test("a key is trusted only after a 2xx answer of that tunnel's agent; a 401 takes it back; other answers change nothing", () => {
  const v = new VerifiedClients();
  expect(v.has("t", "c2l_a")).toBe(false);
  for (const status of [400, 403, 429, 502, 503]) v.note("t", "c2l_a", status);
  expect(v.has("t", "c2l_a")).toBe(false);
  v.note("t", "c2l_a", 200);
  expect(v.has("t", "c2l_a")).toBe(true);
  // Another tunnel's agent has not seen it.
  expect(v.has("u", "c2l_a")).toBe(false);
  v.note("t", "c2l_a", 429);
  expect(v.has("t", "c2l_a")).toBe(true);
  v.note("t", "c2l_a", 401);
  expect(v.has("t", "c2l_a")).toBe(false);
});

test("bounded per tunnel: past the bound the longest known key is forgotten first", () => {
  const v = new VerifiedClients(2);
  v.note("t", "k1", 200);
  v.note("t", "k2", 200);
  v.note("t", "k3", 200);
  expect([v.has("t", "k1"), v.has("t", "k2"), v.has("t", "k3")]).toEqual([false, true, true]);
});

test("only one whole gateway key names a client: not a key with more around it, nor c2l_ inside a word", () => {
  const key = "c2l_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  expect(isWholeKey(key)).toBe(true);
  for (const other of [`${key}.1`, `${key}, x`, `x${key}`, key.slice(0, -1), `${key.slice(0, -1)}.`, "c2l_", "C2L_" + key.slice(4)]) expect({ other, whole: isWholeKey(other) }).toEqual({ other, whole: false });
});

test("bounded in all: 1,000 tunnels (one per signed-in user) of 100 keys each keep at most the bound, the tunnels that verified a new key longest ago forgotten first", () => {
  const v = new VerifiedClients(100, 5_000);
  for (let t = 0; t < 1_000; t++) for (let k = 0; k < 100; k++) v.note(`u${t}`, `c2l_${t}_${k}`, 200);
  expect(v.size).toBeLessThanOrEqual(5_000);
  expect(v.size).toBeGreaterThan(4_900);
  expect([v.has("u0", "c2l_0_0"), v.has("u999", "c2l_999_0"), v.has("u999", "c2l_999_99")]).toEqual([false, true, true]);
  // A tunnel that verifies a new key moves to the end: it outlasts those that did not since.
  v.note("u951", "c2l_951_new", 200);
  // Two new tunnels' keys push out the two tunnels first in line: u950, then u952 (u951 went to the end).
  for (const t of ["fresh", "fresh2"]) for (let k = 0; k < 100; k++) v.note(t, `c2l_${t}_${k}`, 200);
  // (u951's own first key made room for its new one: the bound per tunnel.)
  expect([v.has("u951", "c2l_951_1"), v.has("u951", "c2l_951_new"), v.has("u952", "c2l_952_0")]).toEqual([true, true, false]);
  // A 401 gives its place back.
  const before = v.size;
  v.note("fresh", "c2l_fresh_0", 401);
  expect(v.size).toBe(before - 1);
});

test("the bounds docs/relay.md names, as the relay makes them: 4,096 keys per tunnel and 65,536 in all", () => {
  const v = new VerifiedClients();
  for (let k = 0; k <= 4_096; k++) v.note("t", `c2l_t_${k}`, 200);
  // The 4,097th pushed out the first, and only it.
  expect([v.size, v.has("t", "c2l_t_0"), v.has("t", "c2l_t_1"), v.has("t", "c2l_t_4096")]).toEqual([4_096, false, true, true]);
  // Fifteen more tunnels full: 65,536 in all; one key more forgets the tunnel that verified a new key longest ago ("t").
  for (let t = 0; t < 15; t++) for (let k = 0; k < 4_096; k++) v.note(`u${t}`, `c2l_${t}_${k}`, 200);
  expect(v.size).toBe(65_536);
  v.note("fresh", "c2l_fresh", 200);
  expect([v.size <= 65_536, v.has("t", "c2l_t_4096"), v.has("u0", "c2l_0_0"), v.has("fresh", "c2l_fresh")]).toEqual([true, false, true, true]);
});

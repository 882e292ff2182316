// Each client's share of a tunnel's streams: the cap, the wait for a full tunnel, and who gets a freed stream.
import { expect, test } from "bun:test";
import { ClientShare, defaultShare } from "./client-share.ts";

test("the default share keeps a quarter of the streams (rounded down) for the tunnel's other clients; a small tunnel keeps none", () => {
  expect([1, 2, 3, 4, 8, 64].map(defaultShare)).toEqual([1, 2, 3, 3, 6, 48]);
  expect(new ClientShare(8).perClient).toBe(6);
  expect(new ClientShare(8, 2).perClient).toBe(2);
  expect(new ClientShare(8, 100).perClient).toBe(8);
});

test("a client alone is refused past its share, and another client still gets the rest of the tunnel", () => {
  const s = new ClientShare(8);
  const flood = Array.from({ length: 20 }, () => s.admit("flood"));
  expect(flood.filter((v) => v === "admitted").length).toBe(6);
  expect(flood.slice(6).every((v) => v === "over")).toBe(true);
  expect([s.admit("editor"), s.admit("editor")]).toEqual(["admitted", "admitted"]);
  expect(s.total).toBe(8);
  // The tunnel is full now: a third client waits; the flood is still over its share.
  expect([s.admit("third"), s.admit("flood")]).toEqual(["full", "over"]);
  s.release("flood");
  expect([s.heldBy("flood"), s.total, s.admit("flood")]).toEqual([5, 7, "admitted"]);
});

test("a freed stream goes to the waiting client holding the fewest, first come first served among equals; waits count toward the share", async () => {
  const s = new ClientShare(4, 3);
  for (const c of ["a", "a", "a", "b"]) expect(s.admit(c)).toBe("admitted");
  const order: string[] = [];
  const wait = (c: string) => s.wait(c, 5_000).then((ok) => (ok && order.push(c), ok));
  expect(s.admit("b")).toBe("full");
  const b = wait("b");
  expect(s.admit("c")).toBe("full");
  const c = wait("c");
  expect(s.admit("b")).toBe("full");
  const b2 = wait("b");
  // b holds 1 and waits for 2: its share of 3 is taken.
  expect(s.admit("b")).toBe("over");
  s.release("a");
  await Bun.sleep(0);
  // c holds none, b one: c goes first though b came earlier.
  expect(order).toEqual(["c"]);
  s.release("a");
  s.release("a");
  expect(await Promise.all([b, c, b2])).toEqual([true, true, true]);
  expect(order).toEqual(["c", "b", "b"]);
  expect([s.heldBy("a"), s.heldBy("b"), s.heldBy("c"), s.total]).toEqual([0, 3, 1, 4]);
});

test("a wait ends false after its time or when its caller leaves, and gives up its place", async () => {
  const s = new ClientShare(1);
  expect(s.admit("a")).toBe("admitted");
  expect(await s.wait("b", 20)).toBe(false);
  const gone = new AbortController();
  const left = s.wait("b", 5_000, gone.signal);
  gone.abort();
  expect(await left).toBe(false);
  // Nobody waits: the freed stream is free.
  s.release("a");
  expect(s.total).toBe(0);
  expect(s.admit("b")).toBe("admitted");
});

test("clients that hold nothing leave no entries past a few hundred (identities come and go); a release of nothing changes nothing", () => {
  const s = new ClientShare(4);
  s.admit("x");
  s.release("x");
  s.release("x");
  expect([s.heldBy("x"), s.total]).toEqual([0, 0]);
  s.admit("kept");
  for (let i = 0; i < 1000; i++) {
    expect(s.admit(`made-up-${i}`)).toBe("admitted");
    s.release(`made-up-${i}`);
  }
  const held = (s as unknown as { held: Map<string, number> }).held;
  expect(held.size).toBeLessThanOrEqual(258);
  expect([s.heldBy("kept"), s.total]).toEqual([1, 1]);
});

test("an agent that takes fewer streams than the relay's max_streams holds the tunnel to its number: calls past it wait, and its return to more hands the waiting calls their streams", async () => {
  const s = new ClientShare(64);
  s.fit(2);
  expect([s.maxStreams, s.agentBound, s.perClient]).toEqual([2, true, 48]);
  // One client alone takes every stream the agent has, and its next calls wait for one (its share is the relay's).
  expect([s.admit("a"), s.admit("a"), s.admit("a")]).toEqual(["admitted", "admitted", "full"]);
  const waiting = [s.wait("a", 5_000), s.wait("b", 5_000)];
  s.release("a");
  // The freed stream goes to b, which holds none.
  expect([s.heldBy("a"), s.heldBy("b"), s.total]).toEqual([1, 1, 2]);
  // The agent reconnects with more: a's call gets its stream at once; an older agent (none named) leaves the relay's 64.
  s.fit(8);
  expect(await Promise.all(waiting)).toEqual([true, true]);
  expect([s.total, s.maxStreams, s.agentBound]).toEqual([3, 8, true]);
  s.fit(undefined);
  expect([s.maxStreams, s.agentBound]).toEqual([64, false]);
  s.fit(1000);
  expect(s.maxStreams).toBe(64);
});

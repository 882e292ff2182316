// When a node cut off from Redis stands aside: only after a third of lease_ttl without a write, only when a peer proves
// it reaches Redis and has since before this node lost it (or for a whole lease_ttl), and it rejoins when Redis is back
// or no peer reaches it either.
import { expect, test } from "bun:test";
import { SplitWatch } from "./split-watch.ts";

function rig(uptimes: Record<string, number | null>) {
  let now = 0;
  let usable = true;
  const events: string[] = [];
  const w = new SplitWatch({
    leaseTtlMs: 3_000,
    usable: () => usable,
    peers: () => Object.keys(uptimes).map((id) => ({ id, url: `http://${id}` })),
    redisUptime: async (p) => uptimes[p.id] ?? null,
    aside: (peer) => events.push(`aside ${peer}`),
    back: () => events.push("back"),
    now: () => now,
  });
  return { w, events, at: (ms: number) => (now = ms), cut: (v: boolean) => (usable = !v) };
}

test("a split of this node's own: aside once a peer that reached Redis all along proves it, not before a third of lease_ttl; back when Redis is", async () => {
  const r = rig({ n2: null, n3: 60_000 });
  r.w.wrote();
  r.cut(true);
  r.at(900);
  await r.w.check();
  expect(r.events).toEqual([]);
  r.at(1_000);
  await r.w.check();
  expect(r.events).toEqual(["aside n3"]);
  expect(r.w.confirmedBy).toBe("n3");
  await r.w.check();
  expect(r.events).toEqual(["aside n3"]);
  r.cut(false);
  await r.w.check();
  expect(r.events).toEqual(["aside n3", "back"]);
  expect(r.w.confirmedBy).toBeNull();
});

test("Redis away for every node, or just back at a peer: nobody stands aside; a peer up for a whole lease_ttl while this node is not proves a split", async () => {
  const r = rig({ n2: null, n3: null });
  r.cut(true);
  r.at(5_000);
  await r.w.check();
  expect(r.events).toEqual([]);
  const back = rig({ n2: 1_200 });
  back.cut(true);
  back.at(2_000);
  await back.w.check();
  expect(back.events).toEqual([]);
  back.at(10_000);
  await back.w.check();
  expect(back.events).toEqual([]);
  const late = rig({ n2: 3_000 });
  late.cut(true);
  late.at(10_000);
  await late.w.check();
  expect(late.events).toEqual(["aside n2"]);
});

test("a node that reaches Redis never stands aside, whatever its peers answer", async () => {
  const r = rig({ n2: 60_000, n3: 60_000 });
  for (const at of [1_000, 5_000, 60_000]) {
    r.at(at);
    await r.w.check();
  }
  expect(r.events).toEqual([]);
  expect(r.w.confirmedBy).toBeNull();
});

test("standing aside ends when no peer reaches Redis any more either", async () => {
  const uptimes: Record<string, number | null> = { n2: 60_000 };
  const r = rig(uptimes);
  r.cut(true);
  r.at(2_000);
  await r.w.check();
  expect(r.events).toEqual(["aside n2"]);
  uptimes.n2 = null;
  await r.w.check();
  expect(r.events).toEqual(["aside n2", "back"]);
});

// The relay cluster's Redis parts against Debian's redis-server: ownership leases with epochs (takeover, fencing,
// expiry, reinstatement after Redis lost them), published owner changes, the shared sliding rate window, node
// heartbeats, and the link's behaviour through an outage (fails fast, never queues, reconnects).
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { clusterKeys } from "../../src/relay/cluster/cluster-keys.ts";
import { parseOwnerChange, TunnelLeases } from "../../src/relay/cluster/leases.ts";
import { NodeRegistry } from "../../src/relay/cluster/node-registry.ts";
import { SharedRateWindow } from "../../src/relay/cluster/rate-window.ts";
import { RedisDown, RedisLink } from "../../src/relay/cluster/redis-link.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);
const KEY = clusterKeys(new TextEncoder().encode("a cluster secret of at least 32 bytes")).record;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
}, 20_000);
afterAll(async () => {
  await redis?.stop();
});

test("a takeover raises the epoch, names the previous holder and fences it", async () => {
  const link = await redis.link();
  const a = new TunnelLeases(link, KEY, "node-a", 5000, "http://a:1");
  const b = new TunnelLeases(link, KEY, "node-b", 5000, "http://b:1");
  const first = await a.claim("alice");
  expect(first.previous).toBe("");
  expect(await a.owner("alice")).toEqual({ node: "node-a", epoch: first.epoch, url: "http://a:1" });
  expect(await a.renew("alice", first.epoch)).toBe("renewed");
  // The agent reconnected through another node: that node takes the tunnel at once, without waiting for expiry.
  const second = await b.claim("alice");
  expect(second.epoch).toBeGreaterThan(first.epoch);
  expect(second.previous).toBe("node-a");
  expect(await b.owner("alice")).toEqual({ node: "node-b", epoch: second.epoch, url: "http://b:1" });
  // node-a is fenced: it cannot renew or release what it no longer holds.
  expect(await a.renew("alice", first.epoch)).toBe("fenced");
  expect(await a.release("alice", first.epoch)).toBe(false);
  expect((await a.owner("alice"))?.node).toBe("node-b");
  // A clean disconnect at node-b gives it up; epochs keep growing for the next claim.
  expect(await b.release("alice", second.epoch)).toBe(true);
  expect(await b.owner("alice")).toBeNull();
  expect((await a.claim("alice")).epoch).toBeGreaterThan(second.epoch);
});

test("a lease not renewed expires; a vanished lease comes back to its holder only if nobody claimed since", async () => {
  const link = await redis.link();
  const a = new TunnelLeases(link, KEY, "node-a", 1000);
  const b = new TunnelLeases(link, KEY, "node-b", 1000);
  const kept = await a.claim("kept");
  await a.claim("dropped");
  for (let i = 0; i < 5; i++) {
    await Bun.sleep(300);
    expect(await a.renew("kept", kept.epoch)).toBe("renewed");
  }
  expect(await a.owner("dropped")).toBeNull();
  expect((await a.owner("kept"))?.node).toBe("node-a");
  // Lost (as in a Redis restart without persistence): the holder's next renewal reinstates it.
  await link.cmd("DEL", ["c2l:relay:lease:kept", "c2l:relay:epoch:kept"]);
  expect(await a.renew("kept", kept.epoch)).toBe("reinstated");
  expect(await a.owner("kept")).toEqual({ node: "node-a", epoch: kept.epoch, url: "" });
  // Expired, then claimed elsewhere and released: the old holder's epoch is stale, it stays fenced.
  const gone = await a.claim("moved");
  await link.cmd("DEL", ["c2l:relay:lease:moved"]);
  const other = await b.claim("moved");
  await b.release("moved", other.epoch);
  expect(await a.renew("moved", gone.epoch)).toBe("fenced");
  expect(await a.owner("moved")).toBeNull();
});

test("after Redis lost its records, the tunnel's latest claim outranks an earlier holder that renews first", async () => {
  const link = await redis.link();
  const a = new TunnelLeases(link, KEY, "node-a", 5000, "http://a:1");
  const b = new TunnelLeases(link, KEY, "node-b", 5000, "http://b:1");
  const c = new TunnelLeases(link, KEY, "node-c", 5000, "http://c:1");
  const lose = () => link.cmd("DEL", ["c2l:relay:lease:lost", "c2l:relay:epoch:lost"]);
  // node-a held the tunnel and froze (SIGSTOP, a half-open agent link); the agent reconnected to node-b.
  const stale = await a.claim("lost");
  const held = await b.claim("lost");
  // Redis restarts empty; node-a, resumed, renews before node-b does and puts its lease back.
  await lose();
  expect(await a.renew("lost", stale.epoch)).toBe("reinstated");
  // node-b's claim is the later one: its renewal takes the tunnel back (node-a is fenced by the published change) ...
  expect(await b.renew("lost", held.epoch)).toBe("reinstated");
  expect(await b.owner("lost")).toEqual({ node: "node-b", epoch: held.epoch, url: "http://b:1" });
  expect(await b.renew("lost", held.epoch)).toBe("renewed");
  // ... and node-a cannot take it again, with its lease gone or not.
  expect(await a.renew("lost", stale.epoch)).toBe("fenced");
  await link.cmd("DEL", ["c2l:relay:lease:lost"]);
  expect(await a.renew("lost", stale.epoch)).toBe("fenced");
  expect(await b.renew("lost", held.epoch)).toBe("reinstated");
  // Lost again, then the agent connects to node-c: that claim outranks node-b's from before the loss, whoever renews.
  await lose();
  const moved = await c.claim("lost");
  expect(moved.epoch).toBeGreaterThan(held.epoch);
  expect(await b.renew("lost", held.epoch)).toBe("fenced");
  expect((await c.owner("lost"))?.node).toBe("node-c");
  expect(await c.renew("lost", moved.epoch)).toBe("renewed");
});

test("every ownership change is published for other nodes' caches", async () => {
  const link = await redis.link();
  const seen: string[] = [];
  await link.subscribe("c2l:relay:owners", (m) => seen.push(m));
  const a = new TunnelLeases(link, KEY, "node-a", 5000);
  const { epoch } = await a.claim("pub");
  await a.release("pub", epoch);
  await until(() => seen.length >= 2, 5000, "two published changes");
  expect(seen.map(parseOwnerChange)).toEqual([
    { tunnel: "pub", node: "node-a", epoch },
    { tunnel: "pub", node: null, epoch: 0 },
  ]);
});

test("the shared rate window lets exactly the limit through across nodes, and says when the next one fits", async () => {
  const nodes = await Promise.all([0, 1, 2].map(async (i) => new SharedRateWindow(await redis.link(), `n${i}`)));
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => nodes[i % 3]!.admit("rated", 10, `c${i % 5}`, 10)));
  expect(results.filter((r) => r === null).length).toBe(10);
  const waits = results.filter((r) => r !== null);
  expect(waits.length).toBe(20);
  for (const w of waits) expect(w).toEqual({ seconds: 60, client: false });
  // A short window frees its slots as it slides.
  const quick = new SharedRateWindow(await redis.link(), "q", 500);
  expect(await quick.admit("slide", 1, "a", 1)).toBeNull();
  expect(await quick.admit("slide", 1, "a", 1)).toEqual({ seconds: 1, client: false });
  await Bun.sleep(600);
  expect(await quick.admit("slide", 1, "a", 1)).toBeNull();
});

test("each client's share of the shared window holds across nodes: a client over it is refused as such, and its refusal spends nothing of the tunnel's", async () => {
  const nodes = await Promise.all([0, 1].map(async (i) => new SharedRateWindow(await redis.link(), `s${i}`)));
  const flood = await Promise.all(Array.from({ length: 10 }, (_, i) => nodes[i % 2]!.admit("shared", 8, "c2l_flood-key", 6)));
  expect(flood.filter((r) => r === null).length).toBe(6);
  expect(flood.filter((r) => r !== null)).toEqual(Array(4).fill({ seconds: 60, client: true }));
  // The tunnel has two left, for another client.
  expect([await nodes[0]!.admit("shared", 8, "editor", 6), await nodes[1]!.admit("shared", 8, "editor", 6)]).toEqual([null, null]);
  expect(await nodes[0]!.admit("shared", 8, "editor", 6)).toEqual({ seconds: 60, client: false });
  // The client's name is hashed in Redis: a gateway key is never written there.
  const keys = (await (await redis.link()).cmd("KEYS", ["*shared*"])) as string[];
  expect(keys.some((k) => k.includes("flood"))).toBe(false);
});

test("node heartbeats: a node is listed while it beats, gone after its ttl or when it leaves", async () => {
  const link = await redis.link();
  const a = new NodeRegistry(link, KEY, { id: "a", url: "http://a:1", startedAt: "t" }, 600);
  const b = new NodeRegistry(link, KEY, { id: "b", url: "http://b:1", startedAt: "t" }, 60_000);
  await a.beat();
  await b.beat();
  expect((await a.alive()).map((n) => n.id).sort()).toEqual(["a", "b"]);
  await Bun.sleep(800);
  expect((await b.alive()).map((n) => n.id)).toEqual(["b"]);
  await b.leave();
  expect(await b.alive()).toEqual([]);
});

test("records written into Redis without the cluster's secret are not honoured: leases and heartbeats", async () => {
  const link = await redis.link();
  const a = new TunnelLeases(link, KEY, "node-a", 5000, "http://a:1");
  const { epoch } = await a.claim("forged");
  // Someone with access to Redis points the lease elsewhere, or writes one of their own.
  await link.cmd("HSET", ["c2l:relay:lease:forged", "url", "http://attacker:1"]);
  expect(await a.record("forged")).toEqual({ ok: false, forged: { node: "node-a", url: "http://attacker:1" } });
  expect(await a.owner("forged")).toBeNull();
  // The holder's renewal puts its own URL and signature back.
  expect(await a.renew("forged", epoch)).toBe("renewed");
  expect(await a.owner("forged")).toEqual({ node: "node-a", epoch, url: "http://a:1" });
  await link.cmd("HSET", ["c2l:relay:lease:other", "node", "evil", "epoch", "99", "url", "http://attacker:1", "sig", "A".repeat(43)]);
  expect(await a.record("other")).toEqual({ ok: false, forged: { node: "evil", url: "http://attacker:1" } });
  // Another secret's lease does not verify either.
  const wrong = new TunnelLeases(link, clusterKeys(new TextEncoder().encode("another secret, also 32 bytes long")).record, "rogue", 5000, "http://rogue:1");
  await wrong.claim("rogue-claimed");
  expect(await a.owner("rogue-claimed")).toBeNull();
  expect(await wrong.owner("rogue-claimed")).toMatchObject({ node: "rogue" });
  // Heartbeats: a signed one is a member; a forged, unsigned or other keyspace's one is reported, not listed.
  const reg = new NodeRegistry(link, KEY, { id: "real", url: "http://real:1", startedAt: "t" }, 60_000, "c2l:relay:k1");
  await reg.beat();
  await link.cmd("SET", ["c2l:relay:k1:node:evil", JSON.stringify({ id: "evil", url: "http://attacker:1", startedAt: "t" })]);
  await link.cmd("SET", ["c2l:relay:k1:node:copy", JSON.parse(JSON.stringify(await link.cmd("GET", ["c2l:relay:k1:node:real"])))]);
  await new NodeRegistry(link, clusterKeys(new TextEncoder().encode("another secret, also 32 bytes long")).record, { id: "rogue", url: "http://rogue:1", startedAt: "t" }, 60_000, "c2l:relay:k2").beat();
  const m = await reg.members();
  expect(m.alive.map((n) => n.id)).toEqual(["real"]);
  expect(m.ignored.map((i) => `${i.key}: ${i.why}`).sort()).toEqual([
    "c2l:relay:k1:node:copy: its signature does not verify with this cluster's secret",
    "c2l:relay:k1:node:evil: its signature does not verify with this cluster's secret",
    "c2l:relay:k2:node:rogue: a node of another keyspace: it runs with a different shared secret",
  ]);
});

test("through an outage the link fails fast (never queues), reports it, and comes back with its subscriptions", async () => {
  const states: boolean[] = [];
  const link = new RedisLink(redis.url, { timeoutMs: 500, backoff: { initialMs: 50, maxMs: 200 }, events: { state: (up) => states.push(up) } });
  await link.start();
  const got: string[] = [];
  await link.subscribe("c2l:test", (m) => got.push(m));
  expect(link.up).toBe(true);
  await redis.kill();
  await until(() => !link.up, 5000, "the link to notice the outage");
  const t0 = performance.now();
  const err = await link.cmd("PING", []).catch((e) => e);
  expect(err).toBeInstanceOf(RedisDown);
  expect(performance.now() - t0).toBeLessThan(400);
  await redis.start();
  await until(() => link.up, 10_000, "the link to reconnect");
  expect(await link.cmd("PING", [])).toBe("PONG");
  const other = await redis.link();
  await other.cmd("PUBLISH", ["c2l:test", "after"]);
  await until(() => got.length > 0, 5000, "the subscription to be back");
  expect(got).toEqual(["after"]);
  expect(states).toEqual([true, false, true]);
  link.stop();
}, 30_000);

// A loaded machine: the node gets no CPU for longer than redis_timeout while Redis answers in time. Its expired timer
// runs before its socket is read; the reply that is there already must win, or a healthy node drops its link (logged
// "cluster Redis unreachable") and restarts the uptime a node cut off from Redis needs its peers to prove.
test("a reply Redis sent in time is taken, also when the node had no CPU for longer than redis_timeout: no timeout, the link stays up", async () => {
  const states: boolean[] = [];
  const link = new RedisLink(redis.url, { timeoutMs: 200, events: { state: (up) => states.push(up) } });
  await link.start();
  try {
    expect(link.up).toBe(true);
    const replies: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = link.cmd("PING", []).catch((e: Error) => e.message);
      Bun.sleepSync(500);
      replies.push(await reply);
    }
    expect(replies).toEqual(Array(5).fill("PONG"));
    expect(link.up).toBe(true);
    expect(states).toEqual([true]);
  } finally {
    link.stop();
  }
});

// The same stall with Redis a little farther away (50 ms each way, through a link in another process, so it moves bytes
// while this one sleeps): the command issued just before the stall is written only after it (Bun's client pipelines),
// so its reply needs a round trip after the node wakes, not one turn of the event loop.
test("a command issued just before the node had no CPU for longer than redis_timeout gets its reply from a Redis 50 ms away: no timeout", async () => {
  const here = import.meta.dir;
  const proxy = Bun.spawn(["bun", "-e", `import { startLatencyLink } from ${JSON.stringify(`${here}/../helpers/latency-link.ts`)}; const l = await startLatencyLink(${redis.port}, 50); console.log(l.port);`], { stdout: "pipe", stderr: "inherit" });
  let link: RedisLink | undefined;
  try {
    const reader = proxy.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    expect(port).toBeGreaterThan(0);
    const states: boolean[] = [];
    link = new RedisLink(`redis://127.0.0.1:${port}/0`, { timeoutMs: 300, events: { state: (up) => states.push(up) } });
    await link.start();
    expect(link.up).toBe(true);
    const replies: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = link.cmd("PING", []).catch((e: Error) => e.message);
      Bun.sleepSync(700);
      replies.push(await reply);
    }
    expect(replies).toEqual(Array(3).fill("PONG"));
    expect(states).toEqual([true]);
  } finally {
    link?.stop();
    proxy.kill();
    await proxy.exited;
  }
}, 20_000);

// The other side of the same rule: a stall starts the window again once, not for ever. A Redis that answers nothing
// (stopped) is still a timeout after the node wakes, within one more window.
test("a Redis that answers nothing is still a timeout when the node itself had no CPU meanwhile", async () => {
  const errors: string[] = [];
  const link = new RedisLink(redis.url, { timeoutMs: 200, events: { error: (kind) => errors.push(kind) } });
  await link.start();
  redis.signal("SIGSTOP");
  try {
    const reply = link.cmd("PING", []).catch((e: Error) => e);
    Bun.sleepSync(500);
    const err = await reply;
    expect(err).toBeInstanceOf(RedisDown);
    expect(errors).toEqual(["timeout"]);
    expect(link.up).toBe(false);
  } finally {
    redis.signal("SIGCONT");
    link.stop();
  }
  await until(async () => (await (await redis.link()).cmd("PING", []).catch(() => null)) === "PONG", 5000, "redis-server to answer again");
});

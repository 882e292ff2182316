// A network split between one relay node and Redis while the other nodes keep it: the agent on that node is healthy,
// but its lease can no longer be renewed. The node must send the agent to a node that reaches Redis before the lease
// lapses (else every other node answers 502 tunnel_offline), stop being an owner or an entry for it, and rejoin when
// healed without taking the tunnel back; when Redis is away for every node, nobody moves. Real processes: redis-server,
// 3 relay nodes each reaching Redis through a proxy that can cut it off, HAProxy in front, a daemon as the agent.
import { expect } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { startTcpSwitch, type TcpSwitch } from "../helpers/tcp-switch.ts";
import { until } from "../helpers/until.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { leaseHolder as leaseHolderAt, redisCli as redisCliAt, startCluster, startHaproxy, type ClusterNode, type TestCluster, type TestHaproxy } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server", "haproxy"]);

const LEASE_TTL_MS = 3_000;
/**
 * The promise (docs/relay-cluster.md): clients at the other nodes are served by the agent's new node within lease_ttl
 * of the split, plus the agent's reconnect (and, here, a loaded machine's slack).
 */
const SERVED_AGAIN_MS = LEASE_TTL_MS + 2_000;

let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let lb: TestHaproxy;
let daemon: DaemonProc;
const redisLinks = new Map<string, TcpSwitch>();

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama({ tokenDelayMs: 20 });
  // Each node its own ACL user (as the docs' ACL line), so Redis can refuse one node alone.
  for (const id of ["n1", "n2", "n3"]) {
    redisLinks.set(id, await startTcpSwitch(redis.port));
    expect(await redisCli("ACL", "SETUSER", id, "on", `>${id}-password-for-tests`, "~c2l:*", "&c2l:*", "+@all")).toBe("OK");
  }
  cluster = await startCluster({ redisUrl: redis.url, redisUrlFor: (id) => `redis://${id}:${id}-password-for-tests@127.0.0.1:${redisLinks.get(id)!.port}/0`, leaseTtl: `${LEASE_TTL_MS}ms` });
  lb = await startHaproxy(cluster.nodes, "inter 200ms fall 1 rise 1");
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${lb.url.replace(/^http/, "ws")}/agent` }));
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await lb?.stop();
  await cluster?.stop();
  for (const l of redisLinks.values()) l.stop();
  await fake?.stop();
  await redis?.stop();
  if (daemon) cleanup(daemon.home);
});

const redisCli = (...args: string[]) => redisCliAt(redis.port, ...args);
const leaseHolder = (id = TUNNEL_ID) => leaseHolderAt(redis.port, cluster, id);
/** A node's /readyz: its status, and the cluster's state (in the error's details when it is not ready). */
const readyz = async (n: ClusterNode) => {
  const r = await fetch(`${n.url}/readyz`);
  type Report = { cluster: { redis: string } };
  const body = (await r.json()) as Report & { error?: { code: string; message: string; details: Report } };
  return { status: r.status, cluster: (body.error?.details ?? body).cluster, code: body.error?.code, reason: body.error?.message };
};
/** A call at node `n`: its status and the node that held the agent (x-c2l-relay-owner). */
const tags = async (n: ClusterNode) => {
  const r = await fetch(`${n.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` }, signal: AbortSignal.timeout(5_000) }).catch(() => null);
  await r?.arrayBuffer();
  return { status: r?.status ?? 0, owner: r?.headers.get("x-c2l-relay-owner") ?? null };
};
const logs = () => daemon.stderr() + daemon.stdout();
/** A generation of `tokens` tokens (20 ms each) at node `n`, read to its end: "done" when it is whole, with every token once. */
async function generation(n: ClusterNode, tokens: number): Promise<string> {
  const r = await fetch(`${n.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", headers: { Authorization: `Bearer ${CLIENT_KEY}` }, body: JSON.stringify({ model: "llama3.2:1b", prompt: "long", options: { num_predict: tokens } }) });
  const lines = (await r.text()).trimEnd().split("\n");
  return r.status === 200 && lines.length === tokens + 1 && /"done":true/.test(lines.at(-1)!) ? "done" : `status ${r.status}, ${lines.length} lines, last ${lines.at(-1)}`;
}

/**
 * Waits until every one of `others` is served by one node that is not `cut` (within SERVED_AGAIN_MS) and returns that
 * node; on a timeout the error says what the nodes answered and logged by then.
 */
async function servedElsewhere(cut: ClusterNode, others: ClusterNode[]): Promise<string> {
  let seen: Awaited<ReturnType<typeof tags>>[] = [];
  try {
    return await until(
      async () => {
        seen = await Promise.all(others.map(tags));
        return seen.every((s) => s.status === 200 && s.owner !== null && s.owner !== cut.id && s.owner === seen[0]!.owner) ? seen[0]!.owner : null;
      },
      SERVED_AGAIN_MS,
      `the other nodes to be served by a node other than ${cut.id}`,
    );
  } catch (e) {
    const logs = cluster.nodes.map((n) => `${n.id}: ${n.stderr().slice(-1200)}`).join("\n");
    throw new Error(`${(e as Error).message}; last seen ${JSON.stringify(seen)}\n${logs}`);
  }
}

test("the agent's node cut off from Redis, the others keeping it: its agent moves before the lease lapses, the other nodes are served within lease_ttl, the cut-off node answers for it no more and rejoins without taking it back", async () => {
  await until(async () => (await leaseHolder()) !== null, 10_000, "a node to hold the tunnel");
  const holder = (await leaseHolder())!;
  const cut = cluster.nodes.find((n) => n.id === holder)!;
  const others = cluster.nodes.filter((n) => n !== cut);
  for (const n of cluster.nodes) expect(await tags(n)).toEqual({ status: 200, owner: holder });

  // Streams in flight through the cut-off node, from a client there and from one at another node, outlast the move.
  const inFlight = [generation(cut, 150), generation(others[0]!, 150)];
  await Bun.sleep(200);
  const t0 = performance.now();
  redisLinks.get(cut.id)!.silence();
  try {
    // Every other node is served again by the agent's new node, one that reaches Redis, within the bound, and stays so.
    const mover = await servedElsewhere(cut, others);
    const servedAfter = performance.now() - t0;
    expect(servedAfter).toBeLessThan(SERVED_AGAIN_MS + 1_000);
    expect(await leaseHolder()).toBe(mover);
    // Past the old lease's lifetime too: no 502 tunnel_offline, whoever is asked.
    await Bun.sleep(Math.max(0, LEASE_TTL_MS + 500 - (performance.now() - t0)));
    for (const n of others) expect(await tags(n)).toEqual({ status: 200, owner: mover });
    // The cut-off node says why it is not ready (so the balancer skips it), refuses agents, and never answers as owner.
    const r = await readyz(cut);
    expect(r.status).toBe(503);
    expect(r.code).toBe("not_ready");
    expect(r.cluster.redis).toBe("down");
    expect(r.reason).toMatch(/cannot reach the cluster's Redis .* while node n\d can/);
    const agent = await fetch(`${cut.url}/agent`, { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } });
    expect(agent.status).toBe(503);
    expect(agent.headers.get("retry-after")).toBe("1");
    await agent.arrayBuffer();
    // (Its error answers are stamped with its own name as every answer a node gives itself: the code says it all.)
    const direct = await fetch(`${cut.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    expect(direct.status).toBe(503);
    expect(direct.headers.get("x-c2l-error-code")).toBe("unavailable");
    expect(((await direct.json()) as { error: string }).error).toMatch(/cannot reach the cluster's Redis/);
    expect(cut.stderr()).toMatch(/cut off from the cluster's Redis while another node reaches it: sending this node's agents to another node/);
    for (const n of others) expect((await readyz(n)).status).toBe(200);
    expect(await Promise.all(inFlight)).toEqual(["done", "done"]);
  } finally {
    redisLinks.get(cut.id)!.heal();
  }
  // Healed: ready again, every node reaches the agent at its new node; the cut-off node did not take the tunnel back.
  await until(async () => (await readyz(cut)).status === 200, 10_000, `${cut.id} to be ready again`);
  const mover = (await leaseHolder())!;
  expect(mover).not.toBe(cut.id);
  for (const n of cluster.nodes) await until(async () => (await tags(n)).status === 200, 5_000, `${n.id} to reach the agent`);
  for (const n of cluster.nodes) expect(await tags(n)).toEqual({ status: 200, owner: mover });
  expect(await leaseHolder()).toBe(mover);
  for (const n of cluster.nodes) expect(n.stderr()).not.toMatch(/tunnel fenced/);
  expect(logs()).not.toMatch(/replaced|displaced/);
}, 60_000);

test("Redis away for every node: no node can confirm another reaches it, so the agent stays where it is and that node keeps serving it", async () => {
  const holder = await until(leaseHolder, 10_000, "a node to hold the tunnel");
  const owner = cluster.nodes.find((n) => n.id === holder)!;
  const before = cluster.nodes.map((n) => n.stderr().match(/sending this node's agents to another node/g)?.length ?? 0);
  const connects = (logs().match(/tunnel: connected to the relay/g) ?? []).length;
  for (const l of redisLinks.values()) l.silence();
  try {
    for (const n of cluster.nodes) await until(async () => (await readyz(n)).cluster.redis === "down", 5_000, `${n.id} to see Redis down`);
    // Longer than lease_ttl: every lease would lapse, and yet nobody sends its agent around.
    const t0 = performance.now();
    while (performance.now() - t0 < LEASE_TTL_MS + 500) {
      expect(await tags(owner)).toEqual({ status: 200, owner: owner.id });
      for (const n of cluster.nodes) expect((await readyz(n)).status).toBe(200);
      await Bun.sleep(250);
    }
  } finally {
    for (const l of redisLinks.values()) l.heal();
  }
  for (const n of cluster.nodes) await until(async () => (await tags(n)).status === 200, 10_000, `${n.id} to reach the agent again`);
  expect(await leaseHolder()).toBe(owner.id);
  expect(cluster.nodes.map((n) => n.stderr().match(/sending this node's agents to another node/g)?.length ?? 0)).toEqual(before);
  expect((logs().match(/tunnel: connected to the relay/g) ?? []).length).toBe(connects);
}, 60_000);

test("Redis refusing the owner's writes alone (its ACL user lost them): the agent moves as in a split; given back, the node is ready again and the tunnel stays where it went", async () => {
  const holder = await until(leaseHolder, 10_000, "a node to hold the tunnel");
  const owner = cluster.nodes.find((n) => n.id === holder)!;
  const others = cluster.nodes.filter((n) => n !== owner);
  expect(await redisCli("ACL", "SETUSER", owner.id, "-@write")).toBe("OK");
  try {
    const mover = await servedElsewhere(owner, others);
    expect(await leaseHolder()).toBe(mover);
    const r = await readyz(owner);
    expect(r.status).toBe(503);
    expect(r.reason).toMatch(/ACL user lacks a permission .* while node n\d can/);
  } finally {
    expect(await redisCli("ACL", "SETUSER", owner.id, "+@all")).toBe("OK");
  }
  await until(async () => (await readyz(owner)).status === 200, 10_000, `${owner.id} to be ready again`);
  const mover = (await leaseHolder())!;
  for (const n of cluster.nodes) await until(async () => (await tags(n)).status === 200, 5_000, `${n.id} to reach the agent`);
  for (const n of cluster.nodes) expect(await tags(n)).toEqual({ status: 200, owner: mover });
  expect(mover).not.toBe(owner.id);
  expect(logs()).not.toMatch(/replaced|displaced/);
}, 60_000);

test("every other node's Redis link blipping just after the split (a command timed out, reconnected at once) does not hold the cut-off node back: its agent moves before the lease lapses, no other node answers 502", async () => {
  const holder = await until(leaseHolder, 10_000, "a node to hold the tunnel");
  const cut = cluster.nodes.find((n) => n.id === holder)!;
  const others = cluster.nodes.filter((n) => n !== cut);
  for (const n of cluster.nodes) await until(async () => (await tags(n)).status === 200, 10_000, `${n.id} to reach the agent`);
  redisLinks.get(cut.id)!.silence();
  // The others' connections to Redis die now (their next command times out) and their reconnects get through: a blip.
  for (const n of others) redisLinks.get(n.id)!.silence(), redisLinks.get(n.id)!.heal();
  const seen: number[] = [];
  try {
    await until(
      async () => {
        const now = await Promise.all(others.map(tags));
        seen.push(...now.map((s) => s.status));
        return now.every((s) => s.status === 200 && s.owner !== cut.id && s.owner === now[0]!.owner);
      },
      15_000,
      `the other nodes to be served by a node other than ${cut.id}`,
    );
    // Before, the blip started the others' uptime over, so none could vouch for Redis until a whole lease_ttl later:
    // the cut-off node's lease lapsed first, and every other node answered 502 tunnel_offline in between.
    expect(seen.filter((s) => s === 502)).toEqual([]);
    expect(others.some((n) => /cluster Redis unreachable/.test(n.stderr()))).toBe(true);
  } finally {
    redisLinks.get(cut.id)!.heal();
  }
  await until(async () => (await readyz(cut)).status === 200, 10_000, `${cut.id} to be ready again`);
}, 60_000);

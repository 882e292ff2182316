// A relay node that held a tunnel through a Redis restart without persistence, cut off from Redis and from its agent
// (a half-open link: the agent's side died, the node's did not), while the agent reconnected to another node. Redis
// comes back empty and the old node reaches it first, putting its lease back at its old, lower epoch. The agent's new
// node must not be fenced by it (the agent would be sent away as `replaced`, and a second time within 5 minutes makes it
// stand down as `displaced`); the old node must stop answering for the tunnel. Real processes: redis-server, 3 relay
// nodes each reaching Redis through a proxy that can cut it off, a daemon as the agent through a proxy that can strand
// its link.
import { expect } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { startTcpSwitch, type TcpSwitch } from "../helpers/tcp-switch.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { clusterRedisKeys, startCluster, type ClusterNode, type TestCluster } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let daemon: DaemonProc;
let agentLink: TcpSwitch;
const redisLinks = new Map<string, TcpSwitch>();

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama();
  for (const id of ["n1", "n2", "n3"]) redisLinks.set(id, await startTcpSwitch(redis.port));
  // A long agent tolerance at the nodes: n1's half-open session outlives the whole scenario, as a 15 s default would.
  cluster = await startCluster({ redisUrl: redis.url, redisUrlFor: (id) => `redis://127.0.0.1:${redisLinks.get(id)!.port}/0`, heartbeat: ["300ms", "20s"] });
  agentLink = await startTcpSwitch(cluster.nodes[0]!.port);
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${agentLink.port}/agent` }));
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  agentLink?.stop();
  await cluster?.stop();
  for (const l of redisLinks.values()) l.stop();
  await fake?.stop();
  await redis?.stop();
  if (daemon) cleanup(daemon.home);
});

async function leaseHolder(): Promise<string | null> {
  const { prefix } = clusterRedisKeys(cluster);
  const p = Bun.spawn(["redis-cli", "-p", String(redis.port), "HGET", `${prefix}:lease:${TUNNEL_ID}`, "node"], { stdout: "pipe" });
  const out = (await new Response(p.stdout).text()).trim();
  await p.exited;
  return out || null;
}
const redisState = async (n: ClusterNode) => ((await (await fetch(`${n.url}/readyz`)).json()) as { cluster: { redis: string } }).cluster.redis;
const tags = async (n: ClusterNode) => {
  const r = await fetch(`${n.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` }, signal: AbortSignal.timeout(5_000) }).catch(() => null);
  await r?.arrayBuffer();
  return r?.status ?? 0;
};

test("Redis restarted empty while the old owner is cut off with a half-open agent link: its stale lease at a lower epoch does not fence the agent's new node; the old node stops serving the tunnel", async () => {
  const [n1, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  await until(async () => (await leaseHolder()) === "n1", 5_000, "n1 to hold the tunnel");
  // n1 is cut off from Redis (it misses every change from now on), then the agent's link to it dies on the agent's
  // side only: the agent reconnects at once, to n2, which claims the tunnel at a higher epoch.
  redisLinks.get("n1")!.silence();
  await until(async () => (await redisState(n1)) === "down", 5_000, "n1 to see Redis down");
  agentLink.target = n2.port;
  agentLink.strand();
  await until(async () => (await leaseHolder()) === "n2", 10_000, "n2 to claim the tunnel");
  // n2 is cut off too; Redis restarts empty; n1 reaches it first and puts its lease back (its old epoch).
  redisLinks.get("n2")!.silence();
  await until(async () => (await redisState(n2)) === "down", 5_000, "n2 to see Redis down");
  await redis.kill();
  await redis.start();
  redisLinks.get("n1")!.heal();
  await until(async () => (await leaseHolder()) === "n1", 10_000, "n1 to put its stale lease back");
  // n2 comes back: its claim is the later one, so it keeps the tunnel, and n1 is fenced.
  redisLinks.get("n2")!.heal();
  await until(async () => (await redisState(n2)) === "up", 10_000, "n2 to see Redis up");
  await until(async () => (await leaseHolder()) === "n2", 5_000, "n2 to take the tunnel back");
  await until(async () => /tunnel fenced: no longer served by this node/.test(n1.stderr()), 5_000, "n1 to be fenced");
  for (const n of [n1, n2, n3]) expect(await until(async () => (await tags(n)) === 200, 5_000, `${n.id} to reach the agent`)).toBe(true);
  expect(await leaseHolder()).toBe("n2");
  expect(n2.stderr()).not.toMatch(/tunnel fenced/);
  expect(daemon.stderr() + daemon.stdout()).not.toMatch(/replaced|displaced/);
}, 60_000);

test("a network split between the owner node and Redis, the other nodes keeping Redis: the owner serves its agent all along; once healed, every node reaches it again and one node holds it", async () => {
  const holder = await leaseHolder();
  const owner = cluster.nodes.find((n) => n.id === holder)!;
  const others = cluster.nodes.filter((n) => n !== owner);
  redisLinks.get(owner.id)!.silence();
  try {
    await until(async () => (await redisState(owner)) === "down", 5_000, `${owner.id} to see Redis down`);
    // Longer than lease_ttl (3 s): the owner's lease expires in Redis while its agent stays connected to it.
    const t0 = Date.now();
    while (Date.now() - t0 < 4_000) {
      expect(await tags(owner)).toBe(200);
      for (const n of others) {
        expect(await redisState(n)).toBe("up");
        // The others find the lease, then none once it expired: never a hang, never a second owner.
        expect([200, 502]).toContain(await tags(n));
      }
      await Bun.sleep(250);
    }
    expect(await leaseHolder()).toBeNull();
  } finally {
    redisLinks.get(owner.id)!.heal();
  }
  for (const n of cluster.nodes) await until(async () => (await tags(n)) === 200, 5_000, `${n.id} to reach the agent again`);
  expect(await leaseHolder()).toBe(owner.id);
  for (const n of cluster.nodes) expect(n.stderr().match(/tunnel fenced/g)?.length ?? 0).toBe(n.id === "n1" ? 1 : 0);
  expect(daemon.stderr() + daemon.stdout()).not.toMatch(/replaced|displaced/);
}, 60_000);

// A relay node that held a tunnel through a Redis restart without persistence, cut off from Redis and from its agent
// (a half-open link: the agent's side died, the node's did not), while the agent reconnected to another node. Redis
// comes back empty and the old node reaches it first, putting its lease back at its old, lower epoch. The agent's new
// node must not be fenced by it (the agent would be sent away as `replaced`, and a second time within 5 minutes makes it
// stand down as `displaced`); the old node must stop answering for the tunnel. (Cut off from the other nodes too: a
// node cut off from Redis alone, while another node proves it reaches Redis, sends its agent away instead:
// tests/relay/cluster-split.test.ts.) And an agent that can reach only a node cut off from Redis is served there.
// Real processes: redis-server, 3 relay nodes each reaching Redis through a proxy that can cut it off and reached by the
// others through another, a daemon as the agent through a proxy that can strand its link.
import { expect } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bench/lib/proc.ts";
import { AGENT_RETURN_MS } from "../../src/relay/cluster/cluster.ts";
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
/** The way to each node's internal listener (its advertise_url), which the test can cut off: the nodes' own network. */
const hopLinks = new Map<string, TcpSwitch>();
const hopTargets = new Map<string, number>();

/** Cuts the nodes' network between themselves: open connections closed, new ones refused. */
async function cutHops(): Promise<void> {
  const dead = await freePort();
  for (const l of hopLinks.values()) l.strand(), (l.target = dead);
}
function healHops(): void {
  for (const [id, l] of hopLinks) l.target = hopTargets.get(id)!;
}

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama();
  for (const id of ["n1", "n2", "n3"]) redisLinks.set(id, await startTcpSwitch(redis.port)), hopLinks.set(id, await startTcpSwitch(0));
  // A long agent tolerance at the nodes: n1's half-open session outlives the whole scenario, as a 15 s default would.
  cluster = await startCluster({
    redisUrl: redis.url,
    redisUrlFor: (id) => `redis://127.0.0.1:${redisLinks.get(id)!.port}/0`,
    advertiseUrl: (id, internal) => {
      hopTargets.set(id, (hopLinks.get(id)!.target = Number(internal.split(":").at(-1))));
      return `http://127.0.0.1:${hopLinks.get(id)!.port}`;
    },
    heartbeat: ["300ms", "20s"],
  });
  agentLink = await startTcpSwitch(cluster.nodes[0]!.port);
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${agentLink.port}/agent` }));
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  agentLink?.stop();
  await cluster?.stop();
  for (const l of [...redisLinks.values(), ...hopLinks.values()]) l.stop();
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
  // The nodes cannot reach each other throughout (so none can prove to another that it still reaches Redis).
  await cutHops();
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
  healHops();
  for (const n of [n1, n2, n3]) expect(await until(async () => (await tags(n)) === 200, 5_000, `${n.id} to reach the agent`)).toBe(true);
  expect(await leaseHolder()).toBe("n2");
  expect(n2.stderr()).not.toMatch(/tunnel fenced/);
  expect(daemon.stderr() + daemon.stdout()).not.toMatch(/replaced|displaced/);
}, 60_000);

test("an agent that can reach only the node cut off from Redis (no balancer): sent away, refused, and served there after all once it kept coming back; once healed, every node reaches it again and that node holds it", async () => {
  const holder = await leaseHolder();
  const owner = cluster.nodes.find((n) => n.id === holder)!;
  const others = cluster.nodes.filter((n) => n !== owner);
  const ready = async (n: ClusterNode) => (await fetch(`${n.url}/readyz`)).status;
  redisLinks.get(owner.id)!.silence();
  try {
    // The others reach Redis: the owner stands aside and sends its agent away; the agent's only way is back to it.
    await until(async () => (await ready(owner)) === 503, 5_000, `${owner.id} to stand aside`);
    await until(async () => /sending this node's agents to another node/.test(owner.stderr()), 5_000, `${owner.id} to send its agent away`);
    const t0 = Date.now();
    await until(async () => (await tags(owner)) === 200, AGENT_RETURN_MS + 5_000, `${owner.id} to serve its agent again`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(AGENT_RETURN_MS - 500);
    expect(owner.stderr()).toMatch(/keeps coming back: serving it here/);
    // Served there from now on, while the others cannot know (its lease lapsed): never a hang, never a second owner.
    for (let i = 0; i < 4; i++) {
      expect(await tags(owner)).toBe(200);
      for (const n of others) expect([200, 502, 503]).toContain(await tags(n));
      await Bun.sleep(250);
    }
  } finally {
    redisLinks.get(owner.id)!.heal();
  }
  for (const n of cluster.nodes) await until(async () => (await tags(n)) === 200, 10_000, `${n.id} to reach the agent again`);
  expect(await leaseHolder()).toBe(owner.id);
  for (const n of cluster.nodes) expect(n.stderr().match(/tunnel fenced/g)?.length ?? 0).toBe(n.id === "n1" ? 1 : 0);
  expect(daemon.stderr() + daemon.stdout()).not.toMatch(/replaced|displaced/);
}, 60_000);

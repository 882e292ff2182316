// A call racing a tunnel's move, held at the moment that decides it instead of left to chance. Drained: the agent's node
// gets SIGTERM (GO_AWAY, the agent reconnects at once) and the agent's new node has its claim held back in Redis (a
// proxy between that node and Redis keeps its bytes back, in order, and lets them go later). Reconnected: the agent's
// link to its node dies on the agent's side only (that node still holds a session nobody answers on), a call waits
// there, and the agent comes back at another node. A call reaching a third node meanwhile must be served by the new
// node or answered 503 tunnel_moving with Retry-After, never 502 tunnel_offline: the agent is connected all along.
// Real processes: redis-server, 3 relay nodes, HAProxy in front of two of them (the third is the client's), a daemon as
// the agent; the reconnecting agent is the agent's own connector in this process.
import { expect } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { startTcpSwitch, type TcpSwitch } from "../helpers/tcp-switch.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { metric } from "../tunnel/resume-helpers.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { BOB_KEY, BOB_TOKEN, leaseHolder as leaseHolderAt, startCluster, startHaproxy, type ClusterNode, type TestCluster, type TestHaproxy } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server", "haproxy"]);

let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let lb: TestHaproxy;
let daemon: DaemonProc;
const redisLinks = new Map<string, TcpSwitch>();

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama();
  for (const id of ["n1", "n2", "n3"]) redisLinks.set(id, await startTcpSwitch(redis.port));
  // Redis's replies may be held back for a few seconds without the node counting Redis as down (redis_timeout).
  // A long agent tolerance at the nodes: a half-open agent session outlives the scenario, as the 15 s default would.
  cluster = await startCluster({
    redisUrl: redis.url,
    redisUrlFor: (id) => `redis://127.0.0.1:${redisLinks.get(id)!.port}/0`,
    redisTimeout: "10s",
    clusterExtra: 'drain_delay = "500ms"',
    heartbeat: ["300ms", "20s"],
  });
  // The agent moves between n1 and n2 only; n3 is the client's node.
  lb = await startHaproxy(cluster.nodes.slice(0, 2), "inter 200ms fall 1 rise 1");
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${lb.url.replace(/^http/, "ws")}/agent` }));
}, 60_000);

afterAll(async () => {
  for (const l of redisLinks.values()) l.release();
  await daemon?.stop();
  await lb?.stop();
  await cluster?.stop();
  for (const l of redisLinks.values()) l.stop();
  await fake?.stop();
  await redis?.stop();
  if (daemon) cleanup(daemon.home);
});

const leaseHolder = (id = TUNNEL_ID) => leaseHolderAt(redis.port, cluster, id);
/** A call at node `n`: its status, error code, Retry-After and the node that held the agent. */
async function call(n: ClusterNode) {
  const r = await fetch(`${n.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` }, signal: AbortSignal.timeout(20_000) });
  await r.arrayBuffer();
  return { status: r.status, code: r.headers.get("x-c2l-error-code"), retryAfter: r.headers.get("retry-after"), owner: r.headers.get("x-c2l-relay-owner") };
}
const servedOrMoving = (r: Awaited<ReturnType<typeof call>>) => (r.status === 200 ? "served" : r.status === 503 && r.code === "tunnel_moving" && r.retryAfter !== null ? "moving" : JSON.stringify(r));

/** The two LB nodes, the agent's first (a) and the other (b), and the client's node (c). */
async function roles() {
  const holder = await until(leaseHolder, 10_000, "a node to hold the tunnel");
  const [a, b] = holder === "n1" ? [cluster.nodes[0]!, cluster.nodes[1]!] : [cluster.nodes[1]!, cluster.nodes[0]!];
  const c = cluster.nodes[2]!;
  expect(await call(c)).toEqual({ status: 200, code: null, retryAfter: null, owner: a.id });
  return { a, b, c, i: cluster.nodes.indexOf(a) };
}

const CONNECTED = /agent connected tunnel=alice/;
/** SIGTERM of `a` with `b`'s Redis link held: resolves at the moment the agent is at b, its claim waiting in the link, and a has done what it does on leaving (the old code released its lease at once, so the third node found no owner). */
async function drainWithClaimHeld(a: ClusterNode, b: ClusterNode): Promise<void> {
  const atB = b.count(CONNECTED);
  redisLinks.get(b.id)!.hold();
  a.proc.kill("SIGTERM");
  await until(() => b.count(CONNECTED) > atB, 15_000, `the agent to reconnect to ${b.id}`);
  await until(async () => a.proc.exitCode !== null || (await leaseHolder()) !== a.id || /leaving the cluster/.test(a.stderr()), 10_000, `${a.id} to leave or wait for the claim`);
}

async function servedByAfter(c: ClusterNode, b: ClusterNode): Promise<void> {
  await until(async () => (await leaseHolder()) === b.id, 10_000, `${b.id}'s claim to land`);
  await until(async () => (await call(c)).owner === b.id, 10_000, `${c.id} to be served by ${b.id}`);
  expect(await call(c)).toEqual({ status: 200, code: null, retryAfter: null, owner: b.id });
}

/** Runs `body` on the roles; whatever happens, b's link is let go and the old node restarted (a process of its own again). */
async function moveRace(body: (r: Awaited<ReturnType<typeof roles>>) => Promise<void>): Promise<void> {
  const r = await roles();
  try {
    await body(r);
  } finally {
    redisLinks.get(r.b.id)!.release();
    if (r.a.proc.exitCode === null) r.a.proc.kill("SIGKILL");
    await r.a.proc.exited;
    await cluster.restart(r.i);
  }
}

test("SIGTERM of the agent's node while the new node's claim is held back in Redis: a call at a third node then is held and answered 503 tunnel_moving with Retry-After, never 502 tunnel_offline; once the claim lands the new node serves", async () => {
  await moveRace(async ({ a, b, c }) => {
    await drainWithClaimHeld(a, b);
    expect(servedOrMoving(await call(c))).toBe("moving");
    redisLinks.get(b.id)!.release();
    await servedByAfter(c, b);
    expect(await a.proc.exited).toBe(0);
  });
}, 60_000);

test("SIGTERM of the agent's node, the new node's claim held back and then let through while a call at a third node waits: that call is served by the new node", async () => {
  await moveRace(async ({ a, b, c }) => {
    await drainWithClaimHeld(a, b);
    const during = call(c);
    // Let the call reach the old node, which holds it (for up to 2 s) for the move; the claim then lands meanwhile.
    await Bun.sleep(200);
    redisLinks.get(b.id)!.release();
    expect(await during).toEqual({ status: 200, code: null, retryAfter: null, owner: b.id });
    await servedByAfter(c, b);
    expect(await a.proc.exited).toBe(0);
  });
}, 60_000);

test("an agent whose link died on its side only (its node keeps a session nobody answers on) comes back at another node while a call at a third node waits at the old one: that call is served by the new node, never 502 tunnel_offline", async () => {
  const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  const link = await startTcpSwitch(a.port);
  const agents: Connection[] = [];
  const agentAt = async (port: number, name: string) => {
    const conn = await connect({
      url: `ws://127.0.0.1:${port}/agent`,
      token: BOB_TOKEN,
      agent: name,
      heartbeatMs: 300,
      toleranceMs: 20_000,
      maxStreams: 8,
      onStream: (st) => void serveStream(st, async () => Response.json({ agent: name })),
    });
    agents.push(conn);
    return conn;
  };
  const bob = async (n: ClusterNode) => {
    const r = await fetch(`${n.url}/t/bob/api/tags`, { headers: { Authorization: `Bearer ${BOB_KEY}` }, signal: AbortSignal.timeout(20_000) });
    const body = await r.text();
    return r.status === 200 ? (JSON.parse(body) as { agent: string }).agent : `${r.status} ${r.headers.get("x-c2l-error-code")}`;
  };
  const bobHolder = () => leaseHolder("bob");
  try {
    await agentAt(link.port, "one");
    await until(async () => (await bobHolder()) === a.id, 5_000, `${a.id} to hold bob`);
    expect(await bob(c)).toBe("one");
    // The agent's link dies on its side only: a still holds the session, and a call sent there is never answered.
    link.silence();
    const streams = await metric(a.url, "cloudtolocalllm_relay_streams_active");
    const during = bob(c);
    await until(async () => (await metric(a.url, "cloudtolocalllm_relay_streams_active")) > streams, 10_000, `the call to wait at ${a.id}`);
    // The agent is back, at b: b's claim fences a's session, and the call waiting there goes on to b.
    await agentAt(b.port, "two");
    expect(await during).toBe("two");
    await until(async () => (await bobHolder()) === b.id, 5_000, `${b.id} to hold bob`);
    expect(await bob(c)).toBe("two");
  } finally {
    for (const conn of agents) conn.close("test over");
    link.stop();
  }
}, 60_000);

// The hop watch (src/relay/cluster/hop-watch.ts) against real processes: Debian's redis-server, 3 relay nodes each
// reaching Redis through a proxy that can cut it off, HAProxy in front, a daemon as the agent. A node gives up on its
// calls at a node that froze (SIGSTOP) also while its own Redis is down, so they end with their error line instead of
// hanging; and its probe of another node counts its own time, so a node that got no CPU for longer than the probe's
// timeout does not take a peer that answered in time for frozen.
import { expect } from "bun:test";
import { createServer, type Server } from "node:net";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { startTcpSwitch, type TcpSwitch } from "../helpers/tcp-switch.ts";
import { until } from "../helpers/until.ts";
import { TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { DIALECTS, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";
import { askNode } from "../../src/relay/cluster/node-probe.ts";
import { clusterRedisKeys, leaseHolder as leaseHolderAt, startCluster, startHaproxy, type ClusterNode, type TestCluster, type TestHaproxy } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server", "haproxy"]);

const TOKENS = 200;
let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let lb: TestHaproxy;
let daemon: DaemonProc;
const redisLinks = new Map<string, TcpSwitch>();

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama({ tokens: TOKENS, tokenDelayMs: 40 });
  for (const id of ["n1", "n2", "n3"]) redisLinks.set(id, await startTcpSwitch(redis.port));
  // A short resume window: an answer whose node froze, with nowhere to resume, ends with its error line soon after.
  cluster = await startCluster({ redisUrl: redis.url, redisUrlFor: (id) => `redis://127.0.0.1:${redisLinks.get(id)!.port}/0`, resumeWindow: "2s" });
  lb = await startHaproxy(cluster.nodes, "inter 200ms fall 1 rise 1");
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${lb.url.replace(/^http/, "ws")}/agent` }));
}, 60_000);

afterAll(async () => {
  daemon?.proc.kill("SIGCONT");
  for (const n of cluster?.nodes ?? []) n.proc.kill("SIGCONT");
  await daemon?.stop();
  await lb?.stop();
  await cluster?.stop();
  for (const l of redisLinks.values()) l.stop();
  await fake?.stop();
  await redis?.stop();
  if (daemon) cleanup(daemon.home);
});

const leaseHolder = (id = TUNNEL_ID) => leaseHolderAt(redis.port, cluster, id);
const redisState = async (n: ClusterNode) => {
  const body = (await (await fetch(`${n.url}/readyz`)).json()) as { cluster?: { redis: string }; error?: { details?: { cluster?: { redis: string } } } };
  return (body.error?.details ?? body).cluster?.redis;
};

// A loaded machine: the node sent its probe, then got no CPU for longer than the probe's timeout while the peer
// answered at once. Its expired timer can run before its fetch thread has handed it the answer; counting the stall as
// the peer's would abort every call waiting there (when the peer's heartbeat lapsed too, as on the same loaded machine)
// though the peer is healthy. The prober is a process of its own, stopped (SIGSTOP) right after it asked: Bun's fetch
// reads its sockets on a thread of its own, so only a stop of the whole process takes the CPU from both, as a loaded
// machine does (Bun.sleepSync stops the JavaScript thread alone).
test("a peer that answered the probe in time is not taken for frozen, also when this node had no CPU for longer than the probe's timeout", async () => {
  const { keys } = clusterRedisKeys(cluster);
  const peer = cluster.nodes[0]!;
  const ROUNDS = 5;
  const script = `import { askNode } from ${JSON.stringify(`${import.meta.dir}/../../src/relay/cluster/node-probe.ts`)};
const key = Uint8Array.fromBase64(${JSON.stringify(keys.hop.toBase64())});
for (let i = 0; i < ${ROUNDS}; i++) {
  const answer = askNode({ key, from: "n2" }, ${JSON.stringify(peer.id)}, ${JSON.stringify(peer.internalUrl)}, "/internal/tunnels", 500);
  console.log("asked");
  console.log(JSON.stringify((await answer)?.node ?? null));
}`;
  const prober = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "inherit" });
  const answers: unknown[] = [];
  try {
    const lines = (async function* () {
      let buf = "";
      for await (const chunk of prober.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        for (let n = buf.indexOf("\n"); n >= 0; n = buf.indexOf("\n")) yield buf.slice(0, n), (buf = buf.slice(n + 1));
      }
    })();
    for await (const line of lines) {
      if (line !== "asked") {
        answers.push(JSON.parse(line));
        continue;
      }
      prober.kill("SIGSTOP");
      await Bun.sleep(1_200);
      prober.kill("SIGCONT");
    }
  } finally {
    prober.kill("SIGCONT");
    prober.kill();
    await prober.exited;
  }
  expect(answers).toEqual(Array(ROUNDS).fill(peer.id));
}, 30_000);

// The other side of the same rule: the stall starts the window again once, not for ever. A node whose listener takes
// the connection and answers nothing (frozen: the kernel still accepts) is still given up after the node wakes.
test("a peer that answers nothing is still given up when this node itself had no CPU meanwhile", async () => {
  const { keys } = clusterRedisKeys(cluster);
  const silent: Server = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  try {
    const port = (silent.address() as { port: number }).port;
    const answer = askNode({ key: keys.hop, from: "n2" }, "n9", `http://127.0.0.1:${port}`, "/internal/tunnels", 200);
    Bun.sleepSync(500);
    expect(await answer).toBeNull();
  } finally {
    silent.close();
  }
});

test("the client's node cut off from Redis and the agent's node frozen (SIGSTOP): the answers it has in flight there end with their error line in their dialect, not hang", async () => {
  const holder = await until(leaseHolder, 10_000, "a node to hold the tunnel");
  const owner = cluster.nodes.find((n) => n.id === holder)!;
  const i = cluster.nodes.indexOf(owner);
  const entry = cluster.nodes.find((n) => n !== owner)!;
  const gaveUp = new RegExp(`calls to a relay node that stopped answering were aborted node=${owner.id} calls=\\d`);
  const calls = DIALECTS.map((d) => streamingCall(entry.url, d));
  const ended: boolean[] = DIALECTS.map(() => false);
  calls.forEach((c, k) => void c.done.finally(() => (ended[k] = true)).catch(() => {}));
  try {
    await Promise.all(calls.map((c) => c.started));
    // The entry node's Redis first (its commands time out: it notices), then the owner freezes; the agent is frozen too,
    // so it comes back nowhere and the answers cannot resume: they must end with their error line.
    redisLinks.get(entry.id)!.silence();
    await until(async () => (await redisState(entry)) === "down", 10_000, `${entry.id} to see its Redis down`);
    daemon.proc.kill("SIGSTOP");
    owner.proc.kill("SIGSTOP");
    // Bounded: node_ttl (1.5 s) for the owner's last heartbeat to be too old, a probe (1.5 s), the resume window (2 s).
    await until(() => ended.every(Boolean), 20_000, `the answers at ${entry.id} to end while its Redis is down and ${owner.id} is frozen`);
    const texts = await Promise.all(calls.map((c) => c.done));
    for (const [k, d] of DIALECTS.entries()) {
      const text = texts[k]!;
      expect(tokensIn(text).length).toBeGreaterThan(0);
      expect(tokensIn(text).length).toBeLessThan(TOKENS);
      expect(text).not.toMatch(d.done);
      expect(text).toMatch(new RegExp(`disconnected in the middle of the answer \\(the relay node ${owner.id} stopped answering`));
    }
    // Each in its dialect: Ollama's last NDJSON line is {"error": …}; OpenAI's stream ends with an error event.
    expect(JSON.parse(texts[0]!.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(/stopped answering/) });
    expect(texts[1]!).toMatch(/\n\nevent: error\ndata: \{"error":\{"message":"[^\n]*stopped answering[^\n]*\}\}\n\n$/);
    expect(entry.stderr()).toMatch(gaveUp);
  } finally {
    redisLinks.get(entry.id)!.heal();
    owner.proc.kill("SIGKILL");
    daemon.proc.kill("SIGCONT");
    await owner.proc.exited;
    await cluster.restart(i);
  }
}, 60_000);

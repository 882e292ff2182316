// Resume windows agreed across a relay cluster (Debian's redis-server, 2 real relay nodes, a real daemon as the agent):
// the client at one node, the agent at the other with a shorter resume window than the relays'. The node holding the
// client learns the window its owner agreed with the agent (across the hop), so the client is not kept waiting the
// relays' longer window for an answer the agent gave up.
import { expect } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { DIALECTS, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";
import { startCluster, type TestCluster } from "./cluster-helpers.ts";
import { ownerOf } from "./cluster-rig.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let daemon: DaemonProc;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama({ tokens: 400, tokenDelayMs: 50 });
  // The relays' resume window is the default, 60 s.
  cluster = await startCluster({ redisUrl: redis.url, size: 2 });
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${cluster.nodes[0]!.url.replace(/^http/, "ws")}/agent`, tunnel: 'resume_window = "1500ms"' }));
}, 60_000);

afterAll(async () => {
  daemon?.proc.kill("SIGCONT");
  await daemon?.stop();
  await cluster?.stop();
  await fake?.stop();
  await redis?.stop();
  cleanup(daemon?.home);
});

test("the agent's window (1.5 s) shorter than the relays' (60 s), the client at another node than the agent: its NDJSON and SSE answers end with the error line naming 1.5 s", async () => {
  const owner = await ownerOf(cluster, { via: cluster.nodes[1] });
  expect(owner.id).toBe(cluster.nodes[0]!.id);
  const entry = cluster.nodes[1]!;
  const calls = DIALECTS.map((d) => streamingCall(entry.url, d));
  await Promise.all(calls.map((c) => c.started));
  // The agent frozen: its owner declares the session dead (tolerance 1.2 s); nobody resumes the answers.
  daemon.proc.kill("SIGSTOP");
  try {
    const [ndjson, sse] = (await Promise.all(calls.map((c) => c.done))) as [string, string];
    const why = /did not resume it within 1\.5s; the answer is incomplete$/;
    expect(JSON.parse(ndjson.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
    expect(JSON.parse(/event: error\ndata: (.*)\n\n$/.exec(sse)![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
    for (const t of [ndjson, sse]) {
      const seen = tokensIn(t);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => k));
    }
  } finally {
    daemon.proc.kill("SIGCONT");
  }
}, 40_000);

test("the node holding the agent killed (SIGKILL) with its agent, the client at another node: the answers end with a reason in words, not Bun's fetch advice", async () => {
  // Runs last: it kills the owner node and the agent for good.
  const owner = await ownerOf(cluster, { via: cluster.nodes[1] });
  expect(owner.id).toBe(cluster.nodes[0]!.id);
  const calls = DIALECTS.map((d) => streamingCall(cluster.nodes[1]!.url, d));
  await Promise.all(calls.map((c) => c.started));
  daemon.proc.kill("SIGKILL");
  cluster.nodes[0]!.proc.kill("SIGKILL");
  const [ndjson, sse] = (await Promise.all(calls.map((c) => c.done))) as [string, string];
  // Before: "… in the middle of the answer (ECONNRESET: The socket connection was closed unexpectedly. For more
  // information, pass `verbose: true` in the second argument to fetch()) and its agent …", which the SDKs showed.
  const why = /^tunnel "alice" disconnected in the middle of the answer \((the relay node holding its agent went away: connection reset|the relay node n1 stopped answering \([^)]*\))\) and its agent did not resume it within 1\.5s; the answer is incomplete$/;
  expect(JSON.parse(ndjson.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
  expect(JSON.parse(/event: error\ndata: (.*)\n\n$/.exec(sse)![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
  // The entry node's log says the same, in one line per answer.
  const lines = cluster.nodes[1]!.stderr().split("\n").filter((l) => l.includes("relay: answer cut short"));
  expect(lines.length).toBeGreaterThanOrEqual(2);
  for (const l of lines) expect(l).not.toMatch(/verbose|For more information/);
}, 40_000);

// A rolling upgrade's mixed cluster and resume (Debian's redis-server, a real relay node and daemon): a hop from an entry
// node of a release before resume (recorded as such a node signs it: no x-c2l-entry-resumes) gets no resume token or
// window (that node would pass them on to its client), and the owner itself holds and resumes the answer, so that
// node's client sees one uninterrupted answer. A hop from an entry node that resumes still gets the token.
import { expect } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { tokensIn } from "../tunnel/resume-helpers.ts";
import { clusterRedisKeys, startCluster, type ClusterNode, type TestCluster } from "./cluster-helpers.ts";
import { signedHeaders } from "../../src/relay/cluster/owner-forward.ts";
import { encodeHopBytes } from "../../src/relay/cluster/hop-body.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);
const TOKENS = 120;

let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let node: ClusterNode;
let daemon: DaemonProc;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama({ tokens: TOKENS, tokenDelayMs: 25 });
  cluster = await startCluster({ redisUrl: redis.url, size: 1 });
  node = cluster.nodes[0]!;
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${node.url.replace(/^http/, "ws")}/agent` }));
}, 60_000);

afterAll(async () => {
  daemon?.proc.kill("SIGCONT");
  await daemon?.stop();
  await cluster?.stop();
  await fake?.stop();
  await redis?.stop();
  cleanup(daemon?.home);
});

/** A streaming generation sent to the node's internal listener as an entry node "old" signs it; `extra`: more signed headers. */
function hop(extra: Record<string, string> = {}): Promise<Response> {
  const { keys } = clusterRedisKeys(cluster);
  const body = new TextEncoder().encode(JSON.stringify({ model: "llama3.2:1b", prompt: "count" }));
  const target = `/internal/t/${TUNNEL_ID}/api/generate`;
  const headers = new Headers({ "content-type": "application/json", "x-c2l-content-length": String(body.length), "x-c2l-relay-node": "old", ...extra });
  const signed = signedHeaders(keys.hop, "old", node.id, "POST", target, headers, "framed");
  return fetch(node.internalUrl + target, { method: "POST", headers: signed.headers, body: encodeHopBytes(body, keys.hop, signed.signature) as BodyInit, decompress: false } as RequestInit);
}

test("a hop from an entry node of a release before resume: no token or window in the answer, and the owner resumes it (every token once, done)", async () => {
  const res = await hop();
  expect(res.status).toBe(200);
  expect(res.headers.get("x-c2l-resume")).toBeNull();
  expect(res.headers.get("x-c2l-resume-window")).toBeNull();
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!/tok\d+ /.test(text)) text += dec.decode((await reader.read()).value, { stream: true });
  // The agent frozen past its owner's tolerance (1.2 s): its session is dead; it comes back and resumes the answer.
  const lost = node.count(/agent disconnected/);
  daemon.proc.kill("SIGSTOP");
  try {
    const deadline = Date.now() + 10_000;
    while (node.count(/agent disconnected/) === lost && Date.now() < deadline) await Bun.sleep(50);
  } finally {
    daemon.proc.kill("SIGCONT");
  }
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += dec.decode(r.value, { stream: true });
  expect(text).not.toContain('"error"');
  expect(text).toContain('"done":true');
  expect(tokensIn(text)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
}, 40_000);

test("a hop from an entry node that resumes (x-c2l-entry-resumes) still carries the token and the agreed window; the header stops at the owner", async () => {
  await daemon.waitFor(/tunnel: connected to the relay/, 10_000);
  const res = await hop({ "x-c2l-entry-resumes": "1" });
  expect(res.status).toBe(200);
  expect(res.headers.get("x-c2l-resume")).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(Number(res.headers.get("x-c2l-resume-window"))).toBeGreaterThan(0);
  await res.body?.cancel();
  // Between nodes only: the agent (and so the upstream) never sees it.
  expect(fake.requests.findLast((r) => r.path === "/api/generate")!.headers["x-c2l-entry-resumes"]).toBeUndefined();
}, 20_000);

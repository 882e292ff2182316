// docs/relay-cluster.md's Faults row "the owner node is SIGKILLed": until its agent is back elsewhere, the other nodes answer 503 tunnel_moving with Retry-After: 1 in the caller's dialect, never 502 tunnel_offline.
import { afterAll, beforeAll, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { REPO, type DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { startCluster, type TestCluster } from "./cluster-helpers.ts";
import { ownerOf } from "./cluster-rig.ts";

const { test } = requireTools(["redis-server"]);

let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let daemon: DaemonProc;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama();
  // A lease that outlasts the test's calls: the window between the kill and the agent's return is held open.
  cluster = await startCluster({ redisUrl: redis.url, size: 2, leaseTtl: "30s" });
  // The agent dials the first node itself, no balancer, and waits an hour before it tries again: it is not back
  // anywhere while the test calls the survivor, so every call meets the dead owner's lease.
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${cluster.nodes[0]!.url.replace(/^http/, "ws")}/agent`, backoff: ["1h", "1h"] }));
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await cluster?.stop();
  await fake?.stop();
  await redis?.stop();
  cleanup(daemon?.home);
});

/** What the caller's dialect puts where the error code goes: Ollama's {"error":"…"} is a string, OpenAI's {"error":{…}} names it. */
const shape = {
  "/api/tags": (b: { error?: unknown }) => typeof b.error,
  "/v1/models": (b: { error?: { code?: string } }) => b.error?.code,
} as const;
const want = { "/api/tags": "string", "/v1/models": "tunnel_moving" };

test("the owner node SIGKILLed, its agent not back yet: the other node answers 503 tunnel_moving with Retry-After: 1, in Ollama's and OpenAI's shape", async () => {
  expect(readFileSync(join(REPO, "docs/relay-cluster.md"), "utf8")).toContain("meanwhile other nodes answer `503 tunnel_moving` with `Retry-After: 1` (`tests/relay/cluster-owner-killed.test.ts`) |");
  const [owner, survivor] = [cluster.nodes[0]!, cluster.nodes[1]!];
  expect((await ownerOf(cluster, { via: survivor })).id).toBe(owner.id);
  const before = await fetch(`${survivor.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  expect(before.status).toBe(200);
  await before.arrayBuffer();
  owner.proc.kill("SIGKILL");
  await owner.proc.exited;
  // Twice each: the first failed hop forgets the owner, the next call reads its lease (still naming it) again.
  for (const path of ["/api/tags", "/v1/models", "/api/tags", "/v1/models"] as const) {
    const r = await fetch(`${survivor.url}/t/${TUNNEL_ID}${path}`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    const body = await r.json();
    const got = { path, status: r.status, code: r.headers.get("x-c2l-error-code"), retryAfter: r.headers.get("retry-after"), shape: shape[path](body as never) };
    expect(got).toEqual({ path, status: 503, code: "tunnel_moving", retryAfter: "1", shape: want[path] });
  }
}, 60_000);

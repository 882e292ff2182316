// docs/relay-cluster.md's Faults row "Redis is unreachable": requests_per_minute falls back to the node's own sliding window, so the tunnel's owner still refuses past the limit (429) instead of letting everything through.
import { afterAll, beforeAll, expect } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { type DaemonProc } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { startCluster, type TestCluster } from "./cluster-helpers.ts";
import { ownerOf } from "./cluster-rig.ts";

const { test } = requireTools(["redis-server"]);

const LIMIT = 6;
let redis: TestRedis;
let fake: FakeOllama;
let cluster: TestCluster;
let daemon: DaemonProc;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOllama();
  cluster = await startCluster({ redisUrl: redis.url, size: 2, requestsPerMinute: LIMIT, clientRequestsPerMinute: LIMIT });
  // The agent at the first node itself: that node serves the tunnel through the outage.
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${cluster.nodes[0]!.url.replace(/^http/, "ws")}/agent` }));
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await cluster?.stop();
  await fake?.stop();
  await redis?.stop();
  cleanup(daemon?.home);
});

test("Redis down: the owner keeps serving its tunnel and enforces requests_per_minute in its own window (429 past the limit, with Retry-After)", async () => {
  const owner = cluster.nodes[0]!;
  expect((await ownerOf(cluster, { via: owner })).id).toBe(owner.id);
  await redis.kill();
  await until(async () => ((await (await fetch(`${owner.url}/readyz`)).json()) as { cluster: { redis: string } }).cluster.redis === "down", 10_000, "the owner to see Redis down");
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < LIMIT + 2; i++) {
    const r = await fetch(`${owner.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers.get("retry-after");
    await r.arrayBuffer();
  }
  expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(owner.stderr()).toMatch(/cluster Redis unreachable: serving local tunnels only, limits per node/);
}, 60_000);

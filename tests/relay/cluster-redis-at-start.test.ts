// A relay node that has not reached the cluster's Redis since it started (Debian's redis-server down, a real relay
// process): it knows no other node, so it cannot tell whether they reach Redis; it is not ready and turns agents away
// (an agent it took would be offline to every node that reaches Redis), says so in its log, and is ready once Redis is up.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { AGENT_TOKEN } from "../tunnel/helpers.ts";
import { startCluster, type TestCluster } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

let redis: TestRedis;
let cluster: TestCluster;

beforeAll(async () => {
  // Started to have a port of its own, then killed: the node starts with nothing listening there.
  redis = await startRedis();
  await redis.kill();
  cluster = await startCluster({ redisUrl: redis.url, size: 1 });
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
});

test("a node that has not reached Redis since it started is not ready and refuses agents (503, Retry-After), with one clear log line; ready once Redis is up", async () => {
  const node = cluster.nodes[0]!;
  const ready = await fetch(`${node.url}/readyz`);
  expect(ready.status).toBe(503);
  const { error } = (await ready.json()) as { error: { code: string; message: string; details: { cluster: { redis: string } } } };
  expect(error.code).toBe("not_ready");
  expect(error.message).toMatch(/has not reached the cluster's Redis since it started/);
  expect(error.details.cluster.redis).toBe("down");
  expect(node.stderr()).toMatch(/not ready, taking no agents: this relay node has not reached the cluster's Redis since it started/);
  // The agent's connection (its token right, the upgrade never reached): turned away to retry elsewhere.
  const agent = await fetch(`${node.url}/agent`, { headers: { authorization: `Bearer ${AGENT_TOKEN}`, connection: "upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
  expect(agent.status).toBe(503);
  expect(agent.headers.get("retry-after")).toBe("1");
  await agent.arrayBuffer();
  await redis.start();
  await until(async () => (await fetch(`${node.url}/readyz`)).status === 200, 15_000, "the node to be ready once it reaches Redis");
}, 40_000);

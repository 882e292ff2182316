// docs/relay-cluster.md's Sizing figure for Redis, measured: what a minute of requests at the default requests_per_minute costs in the shared rate windows (the tunnel's and each client's), with Redis's own MEMORY USAGE.
import { afterAll, beforeAll, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../helpers/daemon.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { SharedRateWindow } from "../../src/relay/cluster/rate-window.ts";

const { test } = requireTools(["redis-server"]);

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

test("a minute of requests at the default 600 per minute costs Redis about the docs' bytes per request (the tunnel's window and its clients')", async () => {
  const perRequest = /about (\d+) bytes per request in all/.exec(readFileSync(join(REPO, "docs/relay-cluster.md"), "utf8"));
  expect(perRequest).not.toBeNull();
  const link = await redis.link();
  // A node named as by default (hostname and process id), the default limits (a client's share: the limit less a
  // quarter), the minute's requests spread over a few clients as a tunnel shared by a team sees them.
  const node = new SharedRateWindow(link, "relay-node-01.example.internal-123456");
  const admitted = [];
  for (let i = 0; i < 600; i++) admitted.push(await node.admit("alice", 600, `c2l_client-key-${i % 4}-0123456789abcdef`, 450));
  expect(admitted.filter((r) => r === null).length).toBe(600);
  const keys = String(await link.cmd("KEYS", ["c2l:relay:rate:*"])).split(",");
  expect(keys.length).toBe(5);
  let bytes = 0;
  for (const k of keys) bytes += Number(await link.cmd("MEMORY", ["USAGE", k, "SAMPLES", "0"]));
  // "About": no more than the figure, and not so far under it that the figure misleads the other way.
  expect(bytes / 600).toBeLessThanOrEqual(Number(perRequest![1]));
  expect(bytes / 600).toBeGreaterThan(Number(perRequest![1]) / 2);
}, 60_000);

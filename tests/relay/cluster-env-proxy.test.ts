// A relay node whose service environment names an HTTP proxy (HTTP_PROXY, as on a corporate host) never sends its
// node-to-node calls through it: the hops carry clients' gateway keys and prompts, and signed node calls.
import { expect } from "bun:test";
import type { Server } from "bun";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN } from "../tunnel/helpers.ts";
import { BOB_KEY, BOB_TOKEN, startCluster, type ClusterNode, type TestCluster } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

let redis: TestRedis;
let cluster: TestCluster;
let proxy: Server<undefined>;
let agent: Connection;
/** Every request the environment's proxy was asked to carry. */
const proxied: string[] = [];

type Listing = { tunnels: { id: string; node: string }[] };
const listing = async (n: ClusterNode) => (await (await fetch(`${n.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Listing;

beforeAll(async () => {
  redis = await startRedis();
  proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      proxied.push(`${req.method} ${req.url}`);
      return new Response("the environment's proxy", { status: 502 });
    },
  });
  const env = `http://127.0.0.1:${proxy.port}`;
  // The internal listeners on 127.0.0.2: not a loopback name the relay keeps direct (src/core/loopback-direct.ts),
  // so they stand for nodes on another host.
  cluster = await startCluster({ redisUrl: redis.url, size: 2, internalHost: "127.0.0.2", env: { HTTP_PROXY: env, http_proxy: env, HTTPS_PROXY: env, https_proxy: env } });
  const [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
  agent = await connect({
    url: `${n1.url.replace(/^http/, "ws")}/agent`,
    token: BOB_TOKEN,
    agent: "env-proxy-test",
    heartbeatMs: 1000,
    toleranceMs: 3000,
    maxStreams: 8,
    onStream: (s) => void serveStream(s, async (req) => Response.json({ agent: "n1", key: req.headers.get("x-api-key") })),
  });
  await until(async () => (await listing(n1)).tunnels.some((t) => t.id === "bob" && t.node === "n1"), 10_000, "n1 to hold bob");
}, 60_000);

afterAll(async () => {
  agent?.close("test over");
  await cluster?.stop();
  proxy?.stop(true);
  await redis?.stop();
});

test("a call at n2 for a tunnel n1 holds goes node to node directly, never through the HTTP_PROXY in the nodes' environment", async () => {
  const n2 = cluster.nodes[1]!;
  const call = () =>
    fetch(`${n2.url}/t/bob/api/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${BOB_KEY}`, "x-api-key": "c2l_gateway-key-for-the-broker", "content-type": "application/json" },
      body: JSON.stringify({ model: "m", prompt: "hi", stream: false }),
    });
  // n1's lease reaches n2 through Redis a moment after the agent connected.
  let res = await call();
  for (let tries = 0; res.status !== 200 && tries < 25; tries++) {
    await res.arrayBuffer();
    await Bun.sleep(200);
    res = await call();
  }
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ agent: "n1", key: "c2l_gateway-key-for-the-broker" });
  // The listing asked n1 too (cluster.ts), and the nodes' probes of each other: none of it through the proxy.
  expect((await listing(n2)).tunnels.some((t) => t.id === "bob")).toBe(true);
  expect(proxied).toEqual([]);
}, 30_000);

// The relay cluster's requests_total against what its clients got (real nodes, Debian's redis-server, a real agent):
// each call counted once across the nodes, at the node that answered it: the owner for a forwarded answer, the entry
// node for its own refusals (a bad key, a tunnel with no agent anywhere).
import { expect } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { CLIENT_KEY, TUNNEL_ID, daemonToml, removeHome, startAgentDaemon } from "../tunnel/helpers.ts";
import { startCluster, type TestCluster } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

let redis: TestRedis;
let cluster: TestCluster;
let fake: FakeOllama;
let agent: DaemonProc | undefined;

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster({ redisUrl: redis.url, size: 2 });
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  agent = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${cluster.nodes[0]!.url.replace("http", "ws")}/agent` }));
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  if (agent) removeHome(agent.home);
  await cluster?.stop();
  await fake?.stop();
  await redis?.stop();
});

const chat = (base: string, key: string) =>
  fetch(`${base}/t/${TUNNEL_ID}/api/chat`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false }),
  });

/** requests_total by status at one node. */
async function byStatus(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cloudtolocalllm_relay_requests_total\{status="(\d+)"\} (\d+)$/gm)) if (Number(m[2])) out[m[1]!] = Number(m[2]);
  return out;
}

test("each client call is counted once across the cluster: a forwarded answer at the owner, a bad key and a tunnel with no agent at the entry node", async () => {
  const [owner, entry] = cluster.nodes.map((n) => n.url) as [string, string];
  expect((await chat(entry, CLIENT_KEY)).status).toBe(200);
  expect((await chat(entry, "not-a-key-of-this-tunnel")).status).toBe(401);
  await agent!.stop();
  // The lease goes with the agent: the entry node finds no node holding the tunnel.
  let offline = 0;
  for (let i = 0; i < 50 && offline !== 502; i++) {
    offline = (await chat(entry, CLIENT_KEY)).status;
    if (offline !== 502) await Bun.sleep(100);
  }
  expect(offline).toBe(502);
  const [o, e] = [await byStatus(owner), await byStatus(entry)];
  expect(o["200"]).toBe(1);
  expect(e["401"]).toBe(1);
  expect(e["502"]).toBe(1);
  expect(e["200"]).toBeUndefined();
}, 60_000);

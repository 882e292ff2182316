// docs/relay-cluster.md's sentences as tests against real nodes on Debian's redis-server with a daemon as the agent:
// what an unauthenticated caller learns at a node without the agent, what it can write to Redis, the metrics named.
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, daemonToml, removeHome, startAgentDaemon } from "../tunnel/helpers.ts";
import { BOB_KEY, BOB_TOKEN, redisCli, startCluster, type TestCluster } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server", "promtool"]);
const REPO = join(import.meta.dir, "../..");
const DRAIN_DELAY_S = 8;

let redis: TestRedis;
let cluster: TestCluster;
let fake: FakeOllama;
let agent: DaemonProc | undefined;

beforeAll(async () => {
  redis = await startRedis();
  // drain_delay long enough that the SIGTERM test's checks fall within it on a loaded machine.
  cluster = await startCluster({ redisUrl: redis.url, size: 2, clusterExtra: `drain_delay = "${DRAIN_DELAY_S}s"` });
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

const chat = (base: string, tunnel: string, headers: Record<string, string>) =>
  fetch(`${base}/t/${tunnel}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false }),
  });

/** Status, body and headers of an answer (the date left out), the tunnel id asked for written as "ID". */
async function seen(r: Response, id: string): Promise<{ status: number; body: string; headers: [string, string][] }> {
  const headers = [...r.headers].filter(([k]) => k !== "date");
  return { status: r.status, body: (await r.text()).replaceAll(id, "ID"), headers };
}

/** Every key in Redis. */
async function redisKeys(): Promise<string[]> {
  const port = Number(new URL(redis.url).port);
  return (await redisCli(port, "--scan")).split("\n").filter(Boolean).sort();
}

test("at a node without the agent, an unauthenticated caller cannot tell the tunnel held at another node from a configured one without its agent or an id no tunnel has (no node named but the one it called), and writes nothing to Redis", async () => {
  const entry = cluster.nodes[1]!.url;
  // The tunnel is served across the hop: the owner is the other node.
  const ok = await chat(entry, TUNNEL_ID, { authorization: `Bearer ${CLIENT_KEY}` });
  expect(ok.status).toBe(200);
  expect(ok.headers.get("x-c2l-relay-owner")).toBe(cluster.nodes[0]!.id);
  await ok.text();
  const before = await redisKeys();
  for (const h of [{}, { authorization: `Bearer ${CLIENT_KEY}x` }, { "x-api-key": "guess" }, { authorization: `Bearer ${AGENT_TOKEN}` }, { authorization: `Bearer ${ADMIN_TOKEN}` }] as Record<string, string>[]) {
    const held = await seen(await chat(entry, TUNNEL_ID, h), TUNNEL_ID);
    expect(held.status).toBe(401);
    expect(await seen(await chat(entry, "bob", h), "bob")).toEqual(held);
    expect(await seen(await chat(entry, "nosuchtunnel", h), "nosuchtunnel")).toEqual(held);
    // The owner's name never reaches a caller whose key was not accepted.
    expect(JSON.stringify(held)).not.toContain(cluster.nodes[0]!.id);
  }
  // bob's key on alice and on an id no tunnel has: alike too.
  expect(await seen(await chat(entry, TUNNEL_ID, { authorization: `Bearer ${BOB_KEY}` }), TUNNEL_ID)).toEqual(await seen(await chat(entry, "made-up", { authorization: `Bearer ${BOB_KEY}` }), "made-up"));
  // Made-up ids and keys, many of them: no rate window, lease or anything else appears in Redis for them.
  for (let i = 0; i < 30; i++) await (await chat(entry, `made-up-${i}`, { authorization: `Bearer guess-${i}` })).text();
  for (let i = 0; i < 30; i++) await (await chat(entry, TUNNEL_ID, { authorization: `Bearer guess-${i}` })).text();
  const after = (await redisKeys()).filter((k) => !before.includes(k));
  expect(after).toEqual([]);
});

/** The cloudtolocalllm_relay_* names in a docs page's "## Metrics" section. */
function documentedMetrics(doc: string): string[] {
  const text = readFileSync(join(REPO, "docs", doc), "utf8");
  const at = text.indexOf("\n## Metrics");
  const section = text.slice(at, text.indexOf("\n## ", at + 5));
  return [...new Set([...section.matchAll(/`(cloudtolocalllm_relay_[a-z_]+)/g)].map((m) => m[1]!))];
}

test("every metric docs/relay-cluster.md and docs/relay.md name is in each node's /metrics, and that text passes promtool check metrics", async () => {
  const names = [...documentedMetrics("relay-cluster.md"), ...documentedMetrics("relay.md")];
  expect(names.length).toBeGreaterThanOrEqual(20);
  // A forwarded call and a refusal at each node first, so labelled series have values too.
  for (const n of cluster.nodes) {
    await (await chat(n.url, TUNNEL_ID, { authorization: `Bearer ${CLIENT_KEY}` })).text();
    await (await chat(n.url, TUNNEL_ID, { authorization: "Bearer wrong" })).text();
  }
  for (const n of cluster.nodes) {
    const text = await (await fetch(`${n.url}/metrics`)).text();
    const missing = names.filter((m) => !text.includes(`# TYPE ${m} `) || !text.includes(`# HELP ${m} `));
    expect({ node: n.id, missing }).toEqual({ node: n.id, missing: [] });
    const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ node: n.id, promtool: out + err, code }).toEqual({ node: n.id, promtool: "", code: 0 });
  }
});

test("no credential, nor the cluster's secret, in any node's log, /metrics or /readyz, nor in Redis: client keys (also sent as x-api-key across the hop), agent tokens, the admin token, guessed keys", async () => {
  const gateway = "c2l_" + "G".repeat(43);
  for (const n of cluster.nodes) {
    for (const h of [{ authorization: `Bearer ${CLIENT_KEY}` }, { "x-api-key": CLIENT_KEY }, { authorization: `Bearer ${CLIENT_KEY}`, "x-api-key": gateway }, { authorization: `Bearer ${BOB_KEY}` }, { authorization: "Bearer guessed-key-0123456789abcdef" }] as Record<string, string>[])
      await (await chat(n.url, TUNNEL_ID, h)).text();
    await (await fetch(`${n.url}/api/tunnels`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  }
  const port = Number(new URL(redis.url).port);
  const inRedis: string[] = [];
  for (const key of await redisKeys()) {
    const type = await redisCli(port, "TYPE", key);
    const dump = { string: ["GET", key], hash: ["HGETALL", key], zset: ["ZRANGE", key, "0", "-1", "WITHSCORES"], set: ["SMEMBERS", key], list: ["LRANGE", key, "0", "-1"] }[type];
    inRedis.push(key, dump ? await redisCli(port, ...dump) : "");
  }
  const secret = readFileSync(cluster.secretFile);
  const seen = [
    ...cluster.nodes.map((n) => n.stderr() + n.stdout()),
    ...(await Promise.all(cluster.nodes.map(async (n) => (await (await fetch(`${n.url}/metrics`)).text()) + (await (await fetch(`${n.url}/readyz`)).text())))),
    ...inRedis,
  ].join("\n");
  for (const s of [CLIENT_KEY, BOB_KEY, AGENT_TOKEN, ADMIN_TOKEN, "guessed-key-0123456789abcdef", gateway, secret.toString("base64").slice(0, 16), secret.toString("hex").slice(0, 16), secret.toString("utf8").trim().slice(0, 16)])
    expect({ s: s.slice(0, 8), found: seen.includes(s) }).toEqual({ s: s.slice(0, 8), found: false });
});

// Last: it stops the node holding the agent.
test("SIGTERM of the node holding the agent, during drain_delay: its /readyz is 503 not_ready, it still serves its own agent's tunnel and the other node forwards there, and a new agent connection to it is refused 503", async () => {
  const [owner, other] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  owner.proc.kill("SIGTERM");
  const ready = await until(async () => {
    const r = await fetch(`${owner.url}/readyz`);
    return r.status === 503 ? r : null;
  }, 5_000, "/readyz to turn 503");
  expect(ready.headers.get("x-c2l-error-code")).toBe("not_ready");
  for (const n of [owner, other]) {
    const r = await chat(n.url, TUNNEL_ID, { authorization: `Bearer ${CLIENT_KEY}` });
    expect({ at: n.id, status: r.status, owner: r.headers.get("x-c2l-relay-owner") }).toEqual({ at: n.id, status: 200, owner: owner.id });
    await r.text();
  }
  // bob's agent, arriving now, is sent to a node that stays.
  const upgrade = await rawRequest(owner.port, "GET", "/agent", {
    headers: { authorization: `Bearer ${BOB_TOKEN}`, upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    timeoutMs: 5_000,
  });
  expect(upgrade.status).toBe(503);
  // The drain is still on: the checks above fell within it (else the agent would have moved already).
  expect(owner.proc.exitCode).toBeNull();
});

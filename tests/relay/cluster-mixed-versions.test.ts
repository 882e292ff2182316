// A rolling upgrade's mixed cluster with real processes (Debian's redis-server): a node of the previous release
// (BEFORE_SCHEDULING, before resume and the clients' shares) beside a node of this one. Calls go across the hop both ways,
// and an answer whose client is at the old node, its agent at the new node, survives the agent's lost session: the new
// owner resumes it itself (the old node cannot), and no resume token or window reaches the client.
import { expect } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bench/lib/proc.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { BEFORE_SCHEDULING, commitPresent, oldRelease, type OldRelease } from "../helpers/old-release.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { tokensIn } from "../tunnel/resume-helpers.ts";
import { clusterNodeToml, writeClusterSecret } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server", "git", commitPresent(BEFORE_SCHEDULING)]);
const TOKENS = 120;

let old: OldRelease;
let redis: TestRedis;
let fake: FakeOllama;
let dir: string;
let oldNode: RelayProc;
let newNode: RelayProc;
let daemon: DaemonProc | undefined;

/** A node of this cluster; `main`: another release's src/main.ts (its config without what that release did not know). */
async function node(id: string, secretFile: string, main?: string): Promise<RelayProc> {
  const listen = `127.0.0.1:${await freePort()}`;
  const internal = `127.0.0.1:${await freePort()}`;
  let toml = clusterNodeToml({ redisUrl: redis.url, id, listen, internal, secretFile });
  if (main) toml = toml.replace(/^requests_per_minute_per_client.*\n/m, "");
  const p = await startRelayProc(toml, mkdtempSync(join(dir, `${id}-`)), [], main);
  await p.waitFor(/relay cluster node/, 10_000);
  return p;
}

beforeAll(async () => {
  if (!commitPresent(BEFORE_SCHEDULING).available) return;
  old = oldRelease(BEFORE_SCHEDULING);
  redis = await startRedis();
  fake = await startFakeOllama({ tokens: TOKENS, tokenDelayMs: 25 });
  dir = mkdtempSync(join(tmpdir(), "c2l-mixed-"));
  const secretFile = writeClusterSecret(dir);
  [oldNode, newNode] = await Promise.all([node("old", secretFile, old.main), node("new", secretFile)]);
}, 60_000);

afterAll(async () => {
  daemon?.proc.kill("SIGCONT");
  await daemon?.stop();
  await Promise.all([oldNode?.stop("SIGKILL"), newNode?.stop("SIGKILL")]);
  await fake?.stop();
  await redis?.stop();
  cleanup(dir, old?.dir, daemon?.home);
});

const holder = async (via: RelayProc) =>
  ((await (await fetch(`${via.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { tunnels: { id: string; node: string }[] }).tunnels.find((t) => t.id === TUNNEL_ID)?.node;

async function agentAt(n: RelayProc, id: string): Promise<void> {
  if (daemon) {
    await daemon.stop();
    cleanup(daemon.home);
  }
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${n.url.replace(/^http/, "ws")}/agent` }));
  const other = n === oldNode ? newNode : oldNode;
  await until(async () => (await holder(other)) === id, 10_000, `the ${other === oldNode ? "old" : "new"} node to see the tunnel at ${id}`);
}

const tags = (n: RelayProc) => fetch(`${n.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });

test(`a node of the previous release (${BEFORE_SCHEDULING}) and one of this release forward to each other both ways`, async () => {
  await agentAt(oldNode, "old");
  const a = await tags(newNode);
  expect(a.status).toBe(200);
  expect([a.headers.get("x-c2l-relay-node"), a.headers.get("x-c2l-relay-owner")]).toEqual(["new", "old"]);
  expect(((await a.json()) as { models: unknown[] }).models.length).toBeGreaterThan(0);
  // What docs/relay-cluster.md says of an old owner: it passes the entry node's client name on to its agent, a hash,
  // never the key; and the agent's broker passes none of our x-c2l-* headers on to its upstream.
  const g = await fetch(`${newNode.url}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }),
  });
  expect(g.status).toBe(200);
  await g.arrayBuffer();
  const seen = fake.requests.findLast((r) => r.path === "/api/generate")!.headers;
  expect(Object.keys(seen).filter((k) => k.startsWith("x-c2l-"))).toEqual([]);
  expect(JSON.stringify(seen)).not.toContain(CLIENT_KEY);
  await agentAt(newNode, "new");
  const b = await tags(oldNode);
  expect(b.status).toBe(200);
  expect([b.headers.get("x-c2l-relay-node"), b.headers.get("x-c2l-relay-owner")]).toEqual(["old", "new"]);
  expect(((await b.json()) as { models: unknown[] }).models.length).toBeGreaterThan(0);
}, 60_000);

test("the client at the old node, the agent at the new one, its session lost mid-answer: the answer goes on whole, no resume token or window to the client", async () => {
  if ((await holder(oldNode)) !== "new") await agentAt(newNode, "new");
  const res = await fetch(`${oldNode.url}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "count" }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("x-c2l-resume")).toBeNull();
  expect(res.headers.get("x-c2l-resume-window")).toBeNull();
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!/tok\d+ /.test(text)) text += dec.decode((await reader.read()).value, { stream: true });
  // The agent frozen past the new node's tolerance (1.2 s): its session is dead; it comes back and resumes there.
  const lost = newNode.count(/agent disconnected/);
  daemon!.proc.kill("SIGSTOP");
  try {
    await until(() => newNode.count(/agent disconnected/) > lost, 10_000, "the new node to drop the frozen agent's session");
  } finally {
    daemon!.proc.kill("SIGCONT");
  }
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += dec.decode(r.value, { stream: true });
  expect(text).not.toContain('"error"');
  expect(text).toContain('"done":true');
  expect(tokensIn(text)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
}, 60_000);

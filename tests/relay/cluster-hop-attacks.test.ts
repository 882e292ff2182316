// "The hop is signed" (docs/relay-cluster.md, Trust between nodes), attacked on a real three-node cluster on Debian's
// redis-server: an on-path attacker in front of the owner's internal listener (a recording proxy, as in
// cluster-hop.test.ts) replays, re-addresses, alters and reorders captured hops; a signer with another cluster's secret,
// or with this one's but outside the 30 s window, is refused; and a correctly signed hop to a node that does not hold the
// tunnel is neither served there nor sent on. Whatever is refused never reaches the agent.
import { expect } from "bun:test";
import type { Server } from "bun";
import { readSharedSecret } from "../../src/relay/cluster/cluster.ts";
import { clusterKeys } from "../../src/relay/cluster/cluster-keys.ts";
import { NODE_AUTH_HEADER, NODE_HEADERS_HEADER, signNodeRequest } from "../../src/relay/cluster/node-auth.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN } from "../tunnel/helpers.ts";
import { BOB_KEY, BOB_TOKEN, startCluster, type ClusterNode, type TestCluster } from "./cluster-helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

interface Captured {
  method: string;
  target: string;
  headers: [string, string][];
  body: Uint8Array;
}

let redis: TestRedis;
let cluster: TestCluster;
let proxy: Server<undefined>;
/** "forward": record and pass on to n1's internal listener; "hold": record only (the hop never arrives). */
let proxyMode: "forward" | "hold" = "forward";
const captured: Captured[] = [];
/** The bodies bob's agent (on n1) was sent, in order. */
const served: string[] = [];
let agent: Connection;
let n1: ClusterNode, n2: ClusterNode, n3: ClusterNode;

const NOT_RESENT = new Set(["host", "content-length", "transfer-encoding", "connection"]);

function recordingProxy(internal: string): Server<undefined> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const c: Captured = { method: req.method, target: url.pathname + url.search, headers: [...req.headers], body: new Uint8Array(await req.arrayBuffer()) };
      captured.push(c);
      if (proxyMode === "hold") return new Response("held by the test", { status: 502 });
      return send(`http://${internal}`, c);
    },
  });
}

/** Sends a (captured, maybe altered) request to an internal listener. */
function send(base: string, c: Captured, alter: { body?: Uint8Array | string; headers?: Record<string, string>; target?: string } = {}): Promise<Response> {
  const headers = new Headers(c.headers.filter(([k]) => !NOT_RESENT.has(k)));
  for (const [k, v] of Object.entries(alter.headers ?? {})) headers.set(k, v);
  return fetch(base + (alter.target ?? c.target), { method: c.method, headers, body: (c.method === "GET" ? undefined : (alter.body ?? c.body)) as BodyInit | undefined });
}

/** A hop body's frames as sent (`length | data | tag`, the last one empty): hop-body.ts. */
function frames(body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let at = 0; at < body.length; ) {
    const end = at + 4 + view.getUint32(at) + 32;
    out.push(body.subarray(at, end));
    at = end;
  }
  return out;
}

const generate = (node: ClusterNode, prompt: string) =>
  fetch(`${node.url}/t/bob/api/generate`, { method: "POST", headers: { Authorization: `Bearer ${BOB_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "m", prompt, stream: false }) });

/** What n1 answers, with its status and error message: each refusal must be a 401 naming why. */
async function refusal(p: Promise<Response>): Promise<string> {
  const r = await p;
  const text = await r.text();
  return `${r.status} ${((JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text).replace(/^node-to-node request refused: /, "")}`;
}

/** A hop for bob's /api/tags that node `from` signs for node `to`, with `key`, at `now`. */
function forged(key: Uint8Array, from: string, to: string, now = Date.now()): Headers {
  const target = "/internal/t/bob/api/tags";
  const s = signNodeRequest(key, from, { to, method: "GET", target, headers: new Headers(), body: "none" }, now);
  const h = new Headers({ [NODE_AUTH_HEADER]: s.auth });
  if (s.headerNames) h.set(NODE_HEADERS_HEADER, s.headerNames);
  return h;
}

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((a, l) => a + Number(l.split(" ").at(-1)), 0);
}

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster({
    redisUrl: redis.url,
    size: 3,
    advertiseUrl: (id, internal) => {
      if (id !== "n1") return undefined;
      proxy = recordingProxy(internal);
      return `http://127.0.0.1:${proxy.port}`;
    },
  });
  [n1, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  agent = await connect({
    url: `${n1.url.replace(/^http/, "ws")}/agent`,
    token: BOB_TOKEN,
    agent: "bob",
    heartbeatMs: 1000,
    toleranceMs: 3000,
    maxStreams: 64,
    onStream: (s) => void serveStream(s, async (req) => (served.push(await req.text()), Response.json({ agent: "bob" }))),
  });
  const owner = async (n: ClusterNode) => ((await (await fetch(`${n.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { tunnels: { id: string; node: string }[] }).tunnels.find((t) => t.id === "bob")?.node;
  for (const n of [n2, n3]) await until(async () => (await owner(n)) === "n1", 10_000, `${n.id} to see n1 hold bob`);
}, 60_000);

afterAll(async () => {
  agent?.close("test over");
  proxy?.stop(true);
  await cluster?.stop();
  await redis?.stop();
});

test("on a three-node cluster a captured hop is refused replayed, sent to the third node, or altered after signing (path, a header, the body), and with its body frames reordered; none reaches the agent", async () => {
  expect((await generate(n2, "first")).status).toBe(200);
  const c = captured.at(-1)!;
  expect(c.target).toBe("/internal/t/bob/api/generate");
  // Replayed byte for byte to its owner, and to the third node (whose replay cache never saw it: signed for n1 alone).
  expect(await refusal(send(n1.internalUrl, c))).toMatch(/^401 this signed request was already received \(a replay\)/);
  expect(await refusal(send(n3.internalUrl, c))).toMatch(/^401 bad signature/);

  // Held back by the attacker, so its nonce is unspent at n1: each alteration after signing is still refused.
  proxyMode = "hold";
  const held: Captured[] = [];
  try {
    for (const prompt of ["held 1", "held 2", "held 3", "x".repeat(1_500_000), "y".repeat(1_500_000)]) {
      await (await generate(n3, prompt)).arrayBuffer();
      held.push(captured.at(-1)!);
    }
  } finally {
    proxyMode = "forward";
  }
  const [a, b, d, long1, long2] = held as [Captured, Captured, Captured, Captured, Captured];
  expect(await refusal(send(n1.internalUrl, a, { target: "/internal/t/bob/api/chat" }))).toMatch(/^401 bad signature/);
  expect(await refusal(send(n1.internalUrl, b, { headers: { "content-type": "text/plain" } }))).toMatch(/^401 bad signature/);
  expect(await refusal(send(n1.internalUrl, d, { body: JSON.stringify({ model: "m", prompt: "the attacker's", stream: false }) }))).toMatch(/^401 the forwarded request body was refused/);
  // A long body crosses in frames, each chained to the one before: the first two swapped is refused before the agent
  // hears of the call.
  const f = frames(long1.body);
  expect(f.length).toBeGreaterThanOrEqual(3);
  const reordered = new Uint8Array(long1.body.length);
  reordered.set(f[1]!, 0);
  reordered.set(f[0]!, f[1]!.length);
  reordered.set(long1.body.subarray(f[0]!.length + f[1]!.length), f[0]!.length + f[1]!.length);
  expect(await refusal(send(n1.internalUrl, long1, { body: reordered }))).toMatch(/^401 the forwarded request body was refused/);
  // A frame spliced in from another request (the same position, another chain) is refused the same way.
  const spliced = long2.body.slice();
  spliced.set(frames(long1.body)[0]!.subarray(0, Math.min(f[0]!.length, frames(long2.body)[0]!.length)), 0);
  expect(await refusal(send(n1.internalUrl, long2, { body: spliced }))).toMatch(/^401 the forwarded request body was refused/);
  expect(served).toEqual([JSON.stringify({ model: "m", prompt: "first", stream: false })]);
  expect(await metric(n1, 'cloudtolocalllm_relay_internal_refused_total{reason="body"}')).toBe(3);

  // Control: a held hop delivered untouched, once, is served; a second time it is a replay.
  proxyMode = "hold";
  try {
    await (await generate(n2, "delivered late")).arrayBuffer();
  } finally {
    proxyMode = "forward";
  }
  const late = captured.at(-1)!;
  expect((await send(n1.internalUrl, late)).status).toBe(200);
  expect(served.at(-1)).toContain("delivered late");
  expect(await refusal(send(n1.internalUrl, late))).toMatch(/^401 this signed request was already received/);
  expect(served.length).toBe(2);
}, 60_000);

test("a hop signed with another cluster's secret, or with this cluster's but older or newer than 30 s, is refused by every node; one correctly signed for a node without the tunnel's agent is neither served there nor sent on", async () => {
  const keys = clusterKeys(readSharedSecret(cluster.secretFile));
  const foreign = clusterKeys(crypto.getRandomValues(new Uint8Array(48)));
  const before = served.length;
  for (const to of [n1, n2, n3]) {
    expect(await refusal(fetch(`${to.internalUrl}/internal/t/bob/api/tags`, { headers: forged(foreign.hop, "n2", to.id) }))).toMatch(/^401 bad signature \(is shared_secret_file the same on every node/);
    for (const skew of [-31_000, 31_000])
      expect(await refusal(fetch(`${to.internalUrl}/internal/t/bob/api/tags`, { headers: forged(keys.hop, "n2", to.id, Date.now() + skew) }))).toMatch(/^401 the signature is stale/);
  }
  expect(served.length).toBe(before);
  // Signed with this cluster's key for n3, which does not hold bob: n3 does not forward it on to n1 (the proxy in front of
  // n1 would record it) and does not serve it.
  const hops = captured.length;
  const r = await fetch(`${n3.internalUrl}/internal/t/bob/api/tags`, { headers: forged(keys.hop, "n2", "n3") });
  expect(r.status).toBe(503);
  expect(r.headers.get("x-c2l-error-code")).toBe("tunnel_moving");
  await r.arrayBuffer();
  expect(captured.length).toBe(hops);
  // Control: the same, signed for n1 now, is served (so the refusals above are the signatures' doing).
  const ok = await fetch(`${n1.internalUrl}/internal/t/bob/api/tags`, { headers: forged(keys.hop, "n2", "n1") });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toEqual({ agent: "bob" });
  expect(served.length).toBe(before + 1);
}, 30_000);

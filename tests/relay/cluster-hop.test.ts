// The cluster's trust boundary between nodes, against real relay processes and Debian's redis-server: a node-to-node
// request captured on the wire (a recording proxy in front of the owner's internal listener) cannot be sent again, nor
// with another body, header, path, query or method, nor to another node, and nothing of it reaches the agent; a node started with the
// wrong shared secret on the same Redis never joins: it is not a member, its claims are ignored, the tunnel's clients
// are served by the real nodes.
import { expect } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, cleanup } from "../tunnel/helpers.ts";
import { BOB_KEY, BOB_TOKEN, startCluster, startClusterNode, writeClusterSecret, type ClusterNode, type TestCluster } from "./cluster-helpers.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";

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
/**
 * "forward": record and pass on to n1's internal listener; "hold": record only (the request never arrives); "skew":
 * pass on with the signature's time 40 s back (the sending node's clock off); "foreign": with another signature (a node
 * with another shared secret).
 */
let proxyMode: "forward" | "hold" | "skew" | "foreign" = "forward";
const captured: Captured[] = [];
/** What bob's real agent (on n1) was asked to do. */
const served: string[] = [];
/** The x-api-key header each request reached the real agent with (null: none). */
const apiKeys: (string | null)[] = [];
const agents: Connection[] = [];
let n1: ClusterNode;
let n2: ClusterNode;

const NOT_RESENT = new Set(["host", "content-length", "transfer-encoding", "connection"]);

/** A recording proxy in front of a node's internal listener: the on-path position of an attacker on the node network. */
function recordingProxy(internal: string): Server<undefined> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const c: Captured = { method: req.method, target: url.pathname + url.search, headers: [...req.headers], body: new Uint8Array(await req.arrayBuffer()) };
      captured.push(c);
      if (proxyMode === "hold") return new Response("held by the test", { status: 502 });
      const [node, ts, nonce, body, sig] = c.headers.find(([k]) => k === "x-c2l-node-auth")![1].split(".") as [string, string, string, string, string];
      const auth = proxyMode === "skew" ? [node, Number(ts) - 40_000, nonce, body, sig] : proxyMode === "foreign" ? [node, ts, nonce, body, "A".repeat(43)] : null;
      return send(`http://${internal}`, c, auth ? { headers: { "x-c2l-node-auth": auth.join(".") } } : {});
    },
  });
}

/** Sends a (captured, maybe altered) request as raw bytes to an internal listener. */
function send(base: string, c: Captured, alter: { body?: Uint8Array | string; headers?: Record<string, string>; target?: string; method?: string } = {}): Promise<Response> {
  const headers = new Headers(c.headers.filter(([k]) => !NOT_RESENT.has(k)));
  for (const [k, v] of Object.entries(alter.headers ?? {})) headers.set(k, v);
  const method = alter.method ?? c.method;
  const body = alter.body ?? c.body;
  return fetch(base + (alter.target ?? c.target), { method, headers, body: (method === "GET" ? undefined : body) as BodyInit | undefined });
}

const chat = (node: ClusterNode, prompt: string) =>
  fetch(`${node.url}/t/bob/api/generate`, { method: "POST", headers: { Authorization: `Bearer ${BOB_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "m", prompt, stream: false }) });

async function agentAt(node: ClusterNode, name: string): Promise<Connection> {
  const c = await connect({
    url: `${node.url.replace(/^http/, "ws")}/agent`,
    token: BOB_TOKEN,
    agent: name,
    heartbeatMs: 1000,
    toleranceMs: 3000,
    maxStreams: 64,
    onStream: (s) =>
      void serveStream(s, async (req) => {
        if (name === "real") {
          apiKeys.push(req.headers.get("x-api-key"));
          served.push(await req.text());
        }
        return Response.json({ agent: name });
      }),
  });
  agents.push(c);
  return c;
}

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((a, l) => a + Number(l.split(" ").at(-1)), 0);
}

type Listing = { tunnels: { id: string; node: string }[]; nodes: { id: string }[] };
const listing = async (n: ClusterNode) => (await (await fetch(`${n.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Listing;

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster({
    redisUrl: redis.url,
    size: 2,
    advertiseUrl: (id, internal) => {
      if (id !== "n1") return undefined;
      proxy = recordingProxy(internal);
      return `http://127.0.0.1:${proxy.port}`;
    },
  });
  [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
  await agentAt(n1, "real");
  await until(async () => (await listing(n2)).tunnels.some((t) => t.id === "bob" && t.node === "n1"), 10_000, "n1 to hold bob");
}, 60_000);

afterAll(async () => {
  for (const a of agents) a.close("test over");
  proxy?.stop(true);
  await cluster?.stop();
  await redis?.stop();
});

test("a captured hop request sent again, as it was or altered, is refused and never reaches the agent", async () => {
  const r = await chat(n2, "alice's prompt");
  expect(r.status).toBe(200);
  expect(await r.json()).toEqual({ agent: "real" });
  expect(served).toEqual([JSON.stringify({ model: "m", prompt: "alice's prompt", stream: false })]);
  const c = captured.at(-1)!;
  expect(c.target).toBe("/internal/t/bob/api/generate");
  // The client's key stayed at the entry node; the hop carries the node signature and the signed header list.
  expect(c.headers.find(([k]) => k === "authorization")).toBeUndefined();
  expect(c.headers.find(([k]) => k === "x-c2l-node-auth")).toBeDefined();

  const attacker = JSON.stringify({ model: "other", prompt: "the attacker's prompt", stream: false });
  const refusals: string[] = [];
  const refused = async (p: Promise<Response>) => {
    const res = await p;
    expect(res.status).toBe(401);
    refusals.push(((await res.json()) as { error: { message: string } }).error.message);
  };
  // The request again, exactly; with another body; with the client key or another header added.
  await refused(send(n1.internalUrl, c));
  await refused(send(n1.internalUrl, c, { body: attacker }));
  await refused(send(n1.internalUrl, c, { headers: { authorization: `Bearer ${BOB_KEY}` } }));
  expect(refusals).toEqual([
    expect.stringMatching(/already received \(a replay\)/),
    expect.stringMatching(/already received \(a replay\)/),
    expect.stringMatching(/header authorization is not covered by the signature/),
  ]);

  // Captured before it reached the owner (an on-path attacker holds it back): its nonce is unspent there, and still
  // every alteration is refused.
  proxyMode = "hold";
  try {
    expect((await chat(n2, "held")).status).toBe(502);
  } finally {
    proxyMode = "forward";
  }
  const held = captured.at(-1)!;
  refusals.length = 0;
  await refused(send(n1.internalUrl, held, { target: "/internal/t/bob/api/chat" }));
  await refused(send(n1.internalUrl, held, { target: `${held.target}?stream=true` }));
  await refused(send(n1.internalUrl, held, { method: "PUT" }));
  await refused(send(n1.internalUrl, held, { headers: { "content-type": "text/plain" } }));
  await refused(send(n1.internalUrl, held, { headers: { "x-anything": "1" } }));
  // Sent to another node instead (whose replay cache has not seen it): signed for n1, refused by n2.
  await refused(send(n2.internalUrl, held));
  // The body swapped for the attacker's (raw, or in frames made without the key): refused before the agent hears of it.
  await refused(send(n1.internalUrl, held, { body: attacker }));
  expect(refusals.slice(0, 4).every((m) => /bad signature/.test(m))).toBe(true);
  expect(refusals[4]).toMatch(/header x-anything is not covered/);
  expect(refusals[5]).toMatch(/bad signature/);
  expect(refusals[6]).toMatch(/the forwarded request body was refused/);
  // That attempt spent the nonce: the untouched original is now a replay too.
  await refused(send(n1.internalUrl, held));
  expect(refusals[7]).toMatch(/a replay/);
  expect(served.length).toBe(1);
  expect(n1.stderr()).toMatch(/internal request refused/);
  // Bad signatures, several within a second: one line (docs/relay.md, Logs: a refused node-to-node call once per reason per 10 s).
  expect(n1.stderr().split("\n").filter((l) => l.includes("internal request refused reason=\"bad signature")).length).toBe(1);
  for (const [reason, n] of [["replay", 3], ["bad_signature", 4], ["unsigned_header", 2], ["body", 1]] as const)
    expect(await metric(n1, `cloudtolocalllm_relay_internal_refused_total{reason="${reason}"}`)).toBe(n);

  // Control: a held request delivered untouched, once, is served (the refusals above are the alterations' doing).
  proxyMode = "hold";
  try {
    await chat(n2, "delivered late");
  } finally {
    proxyMode = "forward";
  }
  const late = await send(n1.internalUrl, captured.at(-1)!);
  expect(late.status).toBe(200);
  expect(served.at(-1)).toContain("delivered late");
  expect((await send(n1.internalUrl, captured.at(-1)!)).status).toBe(401);
  expect(served.length).toBe(2);
}, 30_000);

test("a hop the owner refuses (clocks 40 s apart, another secret) is a 503 naming the cluster to the client, not a 401 on its key; logged once", async () => {
  const before = served.length;
  for (const [mode, why] of [
    ["skew", /the signature is stale \(or the nodes' clocks disagree by more than 30 s\)/],
    ["foreign", /bad signature \(is shared_secret_file the same on every node/],
  ] as const) {
    proxyMode = mode;
    try {
      for (let i = 0; i < 2; i++) {
        const r = await chat(n2, `refused ${mode}`);
        expect(r.status).toBe(503);
        expect(r.headers.get("x-c2l-error-code")).toBe("unavailable");
        const msg = ((await r.json()) as { error: string }).error;
        expect(msg).toMatch(/the relay node holding tunnel "bob" refused this node's forwarded call/);
        expect(msg).toMatch(why);
      }
    } finally {
      proxyMode = "forward";
    }
  }
  expect(served.length).toBe(before);
  // One line each on the entry node, however many calls; the owner logs each refusal it makes.
  expect(n2.count(/warn relay: a node refused this node's forwarded call.*owner=n1.*stale/)).toBe(1);
  expect(n2.count(/warn relay: a node refused this node's forwarded call.*owner=n1.*bad signature/)).toBe(1);
  expect(await metric(n2, 'cloudtolocalllm_relay_forwarded_total{result="hop_refused"}')).toBe(4);
  expect((await chat(n2, "after")).status).toBe(200);
});

test("a large body streams across the hop in verified frames and arrives intact", async () => {
  const prompt = "y".repeat(3_000_000);
  const r = await chat(n2, prompt);
  expect(r.status).toBe(200);
  expect(JSON.parse(served.at(-1)!).prompt.length).toBe(prompt.length);
}, 30_000);

test("a node with the wrong shared secret on the same Redis never joins: not a member, its claims ignored", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-rogue-"));
  const rogue = await startClusterNode({ redisUrl: redis.url, id: "rogue", dir, secretFile: writeClusterSecret(dir) });
  try {
    const real = agents[0]!;
    // The same tunnel's agent (a copy, or the balancer's choice) connects to the rogue node, which claims it.
    await agentAt(rogue, "rogue");
    await until(async () => (await listing(rogue)).tunnels.some((t) => t.id === "bob" && t.node === "rogue"), 5_000, "the rogue node to hold bob");
    // For two lease renewal periods, the real nodes keep bob with its real agent and answer its clients.
    const t0 = performance.now();
    while (performance.now() - t0 < 2_500) {
      for (const n of [n1, n2]) {
        const r = await chat(n, "still served");
        expect(r.status).toBe(200);
        expect(await r.json()).toEqual({ agent: "real" });
      }
      await Bun.sleep(100);
    }
    const closed = await Promise.race([real.closed, Bun.sleep(10).then(() => null)]);
    expect(closed).toBeNull();
    for (const n of [n1, n2]) {
      const l = await listing(n);
      expect(l.nodes.map((x) => x.id).sort()).toEqual(["n1", "n2"]);
      expect(l.tunnels.filter((t) => t.id === "bob").map((t) => t.node)).toEqual(["n1"]);
    }
    // The real nodes say why they ignore it.
    await until(() => /ignored a node heartbeat: not a member of this cluster.*node:rogue.*different shared secret/.test(n1.stderr() + n2.stderr()), 5_000, "a log line about the rogue node");
  } finally {
    await rogue.stop("SIGKILL");
    cleanup(dir);
  }
}, 40_000);

test("a client key sent as x-api-key (Claude Code's ANTHROPIC_API_KEY) stays at the entry node; a gateway key beside a bearer key goes on", async () => {
  const call = (headers: Record<string, string>) => fetch(`${n2.url}/t/bob/v1/messages`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
  const viaKey = await call({ "x-api-key": BOB_KEY });
  expect(viaKey.status).toBe(200);
  expect(captured.at(-1)!.headers.find(([k]) => k === "x-api-key")).toBeUndefined();
  expect(apiKeys.at(-1)).toBeNull();
  // With the relay's key as a bearer token, x-api-key is the client's business with the broker (a gateway key).
  const beside = await call({ authorization: `Bearer ${BOB_KEY}`, "x-api-key": "c2l_for_the_broker" });
  expect(beside.status).toBe(200);
  expect(apiKeys.at(-1)).toBe("c2l_for_the_broker");
  // Anything else in x-api-key beside a bearer key (another relay key, say) is no gateway key: it stays too.
  expect((await call({ authorization: `Bearer ${BOB_KEY}`, "x-api-key": "another-relay-key" })).status).toBe(200);
  expect(apiKeys.at(-1)).toBeNull();
  expect((await call({ "x-api-key": "wrong" })).status).toBe(401);
});

test("a request HTTP itself refuses at the internal listener (a fragment in its target, two Host headers) is 400, logged as refused and counted in internal_refused_total{reason=\"bad_request\"}", async () => {
  const before = await metric(n1, 'cloudtolocalllm_relay_internal_refused_total{reason="bad_request"}');
  const { port, hostname } = new URL(n1.internalUrl);
  for (const head of [`GET /internal/tunnels#x HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`, `GET /internal/tunnels HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`]) {
    const answer = await new Promise<string>((done) => {
      let got = "";
      void Bun.connect({ hostname, port: Number(port), socket: { open: (s) => void s.write(head), data: (s, b) => {
            got += b.toString();
            if (got.includes("\r\n\r\n")) s.end();
          }, close: () => done(got), error: () => done(got) } });
    });
    expect(answer).toStartWith("HTTP/1.1 400");
  }
  expect(await metric(n1, 'cloudtolocalllm_relay_internal_refused_total{reason="bad_request"}')).toBe(before + 2);
  expect(n1.stderr()).toMatch(/internal request refused reason="the request target has a fragment/);
}, 30_000);

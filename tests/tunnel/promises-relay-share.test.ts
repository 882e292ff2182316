// The docs' promise that a flooding script cannot starve your editor, at the relay's own limits (docs/relay.md, Limits
// per client), through a real relay and daemon: with max_streams = 8, twenty calls of one gateway key at once (waiting in
// the broker's queue, or never read) hold no more than the key's share of the tunnel's streams, so another key, or a
// client with the relay's key alone, is still served; across a cluster's hop too (the owner node keeps the shares).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { createKey, type DaemonProc } from "../helpers/daemon.ts";
import { startRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { startCluster } from "../relay/cluster-helpers.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { metric } from "./resume-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

const MAX_STREAMS = 8;
/** The default share: max_streams less a quarter. */
const SHARE = 6;
const FLOOD = 20;
/** A second client key of the tunnel (cluster test). */
const OTHER_KEY = "other-client-key-for-tests-01234";

/**
 * An upstream whose generation for "endless" produces as fast as it is read (a client that never reads holds it
 * paused), for "slow" answers after 500 ms, and for anything else at once.
 */
function upstream() {
  const line = new TextEncoder().encode((JSON.stringify({ model: "m:latest", response: "x".repeat(1000), done: false }) + "\n").repeat(16));
  const last = (text: string) => JSON.stringify({ model: "m:latest", response: text, done: true }) + "\n";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:latest", model: "m:latest", size: 1, digest: "x", modified_at: new Date().toISOString(), details: {} }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      if (path !== "/api/generate") return new Response("not found", { status: 404 });
      const { prompt } = (await req.json()) as { prompt: string };
      if (prompt === "slow") await Bun.sleep(500);
      if (prompt !== "endless") return new Response(last(`answer to ${prompt}`), { headers: { "content-type": "application/x-ndjson" } });
      return new Response(new ReadableStream({ pull: (c) => c.enqueue(line.slice()) }), { headers: { "content-type": "application/x-ndjson" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

const up = upstream();
let relay: RelayProc;
let d: DaemonProc;

beforeAll(async () => {
  relay = await startRelayProc(relayToml().replace("max_streams = 512", `max_streams = ${MAX_STREAMS}`));
  d = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await relay?.stop("SIGKILL");
  up.stop();
  cleanup(relay?.dir, d?.home);
});

/** A gateway key made with the CLI, once the daemon sees it. */
async function key(name: string, ...flags: string[]): Promise<string> {
  return keyOf(d, name, ...flags);
}
async function keyOf(daemon: DaemonProc, name: string, ...flags: string[]): Promise<string> {
  const k = createKey(daemon, name, ...flags);
  await until(async () => (await fetch(`${daemon.urls.broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, `the daemon to see the key ${name}`);
  return k;
}

const generate = (prompt: string, gatewayKey: string | null, signal?: AbortSignal, url = relay.url, clientKey = CLIENT_KEY, more: Record<string, string> = {}) =>
  fetch(`${url}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${clientKey}`, "content-type": "application/json", ...(gatewayKey ? { "x-api-key": gatewayKey } : {}), ...more },
    body: JSON.stringify({ model: "m:latest", prompt }),
    signal,
  });

const streamsActive = () => metric(relay.url, "cloudtolocalllm_relay_streams_active");

test("20 calls of one key at once, waiting in the broker's queue (its --max-parallel 1), hold only its share of the relay's 8 streams: another key and the relay's key alone are served meanwhile", async () => {
  const flood = await key("flood", "--max-parallel", "1");
  const editor = await key("editor");
  let floodServed = 0;
  const statuses = Array.from({ length: FLOOD }, () =>
    generate("slow", flood).then(async (r) => {
      const body = await r.text();
      if (r.status === 200) floodServed++;
      return { status: r.status, body, retryAfter: r.headers.get("retry-after"), code: r.headers.get("x-c2l-error-code") };
    }),
  );
  await until(async () => (await streamsActive()) >= SHARE, 5000, "the flood to hold its streams");
  const mine = await generate("editor", editor);
  const alone = await generate("relay-key-alone", null);
  expect([mine.status, await mine.text(), alone.status, await alone.text()]).toEqual([200, expect.stringContaining("answer to editor"), 200, expect.stringContaining("answer to relay-key-alone")]);
  // Served while the flood still held its streams (its calls run one at a time, half a second each), not after it.
  expect(floodServed).toBeLessThan(SHARE);
  const all = await Promise.all(statuses);
  expect(all.filter((x) => x.status === 200).length).toBe(SHARE);
  // The rest of the flood is refused at once, saying why.
  const refused = all.filter((x) => x.status === 429);
  expect(refused.length).toBe(FLOOD - SHARE);
  expect(refused[0]!.body).toContain("max_streams_per_client");
  // As docs/relay.md words it: Retry-After: 1, the share counted in the message.
  expect([...new Set(refused.map((x) => `${x.code} ${x.retryAfter} ${/this client already has \d+ of its \d+ requests in flight/.exec(x.body)?.[0]}`))]).toEqual([
    `rate_limited 1 this client already has ${SHARE} of its ${MAX_STREAMS} requests in flight`,
  ]);
}, 30_000);

/** A raw client that asks for an endless generation and never reads past the first bytes of the answer; its status. */
async function neverReads(gatewayKey: string | null, port = relay.port): Promise<{ sock: Socket; status: number }> {
  const body = JSON.stringify({ model: "m:latest", prompt: "endless" });
  const sock = connect(port, "127.0.0.1");
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", () => r()));
  sock.write(`POST /t/${TUNNEL_ID}/api/generate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${CLIENT_KEY}\r\n${gatewayKey ? `x-api-key: ${gatewayKey}\r\n` : ""}content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  const first = await new Promise<Buffer>((r) => sock.once("data", (b: Buffer) => (sock.pause(), r(b))));
  return { sock, status: Number(/^HTTP\/1\.1 (\d+)/.exec(first.toString("latin1"))?.[1]) };
}

test("20 endless generations of one key that are never read hold only its share of the relay's streams: another key is served", async () => {
  const idle = await key("never-reads");
  const editor = await key("editor-2");
  await until(async () => (await streamsActive()) === 0, 5000, "the last test's streams to end");
  const held = await Promise.all(Array.from({ length: FLOOD }, () => neverReads(idle)));
  try {
    // The stalled answers are still open (paused, not ended) when the other key asks.
    await Bun.sleep(300);
    const mine = await generate("editor", editor, AbortSignal.timeout(5000));
    expect([mine.status, await mine.text()]).toEqual([200, expect.stringContaining("answer to editor")]);
    expect(held.filter((h) => h.status === 200).length).toBe(SHARE);
    expect(held.filter((h) => h.status === 429).length).toBe(FLOOD - SHARE);
    expect(await streamsActive()).toBe(SHARE);
  } finally {
    for (const h of held) h.sock.destroy();
  }
  await until(async () => (await streamsActive()) === 0, 5000, "the stalled streams to end with their clients");
}, 30_000);

test("made-up gateway keys (a new one per call) cannot multiply a client's share: each call is refused 401 at once and holds no relay stream, even while its body trickles in", async () => {
  await until(async () => (await streamsActive()) === 0, 5000, "the last test's streams to end");
  const socks = await Promise.all(
    Array.from({ length: FLOOD }, async (_, i) => {
      const sock = connect(relay.port, "127.0.0.1");
      sock.on("error", () => {});
      await new Promise<void>((r) => sock.once("connect", () => r()));
      let got = "";
      sock.on("data", (b: Buffer) => (got += b.toString("latin1")));
      const made = `c2l_${String(i).padStart(43, "A")}`;
      // A chunked body that never ends: one byte more every 100 ms.
      sock.write(`POST /t/${TUNNEL_ID}/api/generate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${CLIENT_KEY}\r\nx-api-key: ${made}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{\r\n`);
      const trickle = setInterval(() => sock.write("1\r\n \r\n"), 100);
      return { sock, trickle, status: () => Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0) };
    }),
  );
  try {
    await until(() => socks.every((s) => s.status() !== 0), 5000, "every made-up key's answer");
    expect(socks.map((s) => s.status())).toEqual(Array(FLOOD).fill(401));
    await Bun.sleep(300);
    expect(await streamsActive()).toBe(0);
  } finally {
    for (const s of socks) clearInterval(s.trickle), s.sock.destroy();
  }
}, 30_000);

// Client at one node, agent at the other: the owner node keeps the shares, by the name the entry node gives the client.
requireTools(["redis-server"]).test("across a cluster's hop: 20 endless generations never read, sent with one relay key alone to the node without the agent, hold only their share (naming itself another client changes nothing); a gateway key and another relay key are served, also once the flood's key spent its share of the minute", async () => {
  const redis = await startRedis();
  // 40 requests a minute for the tunnel (Redis keeps the window), 30 of them a client's share.
  const cluster = await startCluster({ redisUrl: redis.url, size: 2, maxStreams: MAX_STREAMS, requestsPerMinute: 40, clientKeys: [CLIENT_KEY, OTHER_KEY] });
  const [owner, entry] = [cluster.nodes[0]!, cluster.nodes[1]!];
  const agent = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${owner.url.replace(/^http/, "ws")}/agent` }));
  const held: { sock: Socket; status: number }[] = [];
  try {
    const editor = await keyOf(agent, "editor");
    await until(async () => (await generate("warm", null, undefined, entry.url)).status === 200, 10_000, "the entry node to find the tunnel's owner");
    held.push(...(await Promise.all(Array.from({ length: FLOOD }, () => neverReads(null, entry.port)))));
    await Bun.sleep(300);
    const mine = await generate("editor", editor, AbortSignal.timeout(5000), entry.url);
    const other = await generate("other-key", null, AbortSignal.timeout(5000), entry.url, OTHER_KEY);
    expect([mine.status, await mine.text(), other.status, await other.text()]).toEqual([200, expect.stringContaining("answer to editor"), 200, expect.stringContaining("answer to other-key")]);
    // The flood's key naming itself the other key for the hop is still the flood's: the entry node names the client.
    const forged = await generate("forged", null, AbortSignal.timeout(5000), entry.url, CLIENT_KEY, { "x-c2l-relay-client": hashToken(OTHER_KEY) });
    expect([forged.status, await forged.text()]).toEqual([429, expect.stringContaining("max_streams_per_client")]);
    // The flood's key spends its share of the minute, not the tunnel's: the other key is still served after it.
    let spent: Response | null = null;
    for (let i = 0; i < 12 && !spent; i++) {
      const r = await generate("minute", null, AbortSignal.timeout(5000), entry.url);
      if (r.status === 429 && (await r.clone().text()).includes("requests per minute")) spent = r;
      else await r.arrayBuffer();
    }
    expect(await spent?.text()).toContain("this client is over its 30 of the tunnel's 40 requests per minute");
    expect((await generate("after-minute", null, AbortSignal.timeout(5000), entry.url, OTHER_KEY)).status).toBe(200);
    expect(held.filter((h) => h.status === 200).length).toBe(SHARE);
  } finally {
    for (const h of held) h.sock.destroy();
    await agent.stop();
    await cluster.stop();
    await redis.stop();
    cleanup(agent.home);
  }
}, 40_000);

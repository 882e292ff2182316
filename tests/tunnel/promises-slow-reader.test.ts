// The docs' promise about a slow reader (docs/protocol.md, Flow control), tried through a real relay and daemon: a cloud
// client that stops reading while a fast upstream generates holds the upstream back (bounded memory everywhere), with
// resume on and off and across the cluster hop, and does not hold up another stream of the same tunnel; and the reverse
// (a fast upload to an upstream that reads slowly) holds the client back.
import { afterAll, afterEach, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { startCluster } from "../relay/cluster-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, rssMiB, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

const MiB = 1024 * 1024;
/** What may sit in the pipes of a stalled answer: kernel socket buffers on three hops, windows, the broker's read-ahead. Unbounded, it was 100s of MB per second. */
const MAX_PRODUCED = 48 * MiB;

/** An upstream whose generations produce 64 KiB of NDJSON per pull, as fast as they are read, counting what it produced. */
function firehose() {
  const st = { produced: 0, open: 0, uploaded: 0 };
  const line = JSON.stringify({ model: "m:latest", response: "x".repeat(1000), done: false }) + "\n";
  const chunk = new TextEncoder().encode(line.repeat(64));
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/chat") {
        // An upstream that reads an upload slowly (~5 MB/s).
        let n = 0;
        for await (const c of req.body!) {
          st.uploaded += c.byteLength;
          if (++n % 4 === 0) await Bun.sleep(50);
        }
        return Response.json({ model: "m:latest", message: { role: "assistant", content: "ok" }, done: true });
      }
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:latest", model: "m:latest", size: 1, digest: "x", modified_at: new Date().toISOString(), details: {} }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      if (path !== "/api/generate") return new Response("not found", { status: 404 });
      const { prompt } = (await req.json()) as { prompt: string };
      // "short": a small answer of 200 lines, read while the other one is stalled.
      let left = prompt === "short" ? 200 : Infinity;
      if (prompt !== "short") st.open++;
      return new Response(
        new ReadableStream({
          cancel: () => void st.open--,
          pull(c) {
            if (left-- <= 0) {
              c.enqueue(new TextEncoder().encode(JSON.stringify({ model: "m:latest", response: "", done: true }) + "\n"));
              return c.close();
            }
            c.enqueue(prompt === "short" ? new TextEncoder().encode(line) : chunk.slice());
            if (prompt !== "short") st.produced += chunk.length;
          },
        }),
        { headers: { "content-type": "application/x-ndjson" } },
      );
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, st, stop: () => server.stop(true) };
}

const up = firehose();
let relay: RelayProc;
let daemon: DaemonProc;

async function start(relayExtra: string): Promise<void> {
  relay = await startRelayProc(relayToml({ extra: relayExtra }));
  daemon = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
}
afterEach(async () => {
  await daemon?.stop();
  await relay?.stop();
  cleanup(relay?.dir, daemon?.home);
});
afterAll(() => up.stop());

async function streamsActive(): Promise<number> {
  return Number(/^cloudtolocalllm_relay_streams_active (\d+)/m.exec(await (await fetch(`${relay.url}/metrics`)).text())?.[1] ?? NaN);
}

/** A raw client that asks for an endless generation and stops reading after its first bytes. */
async function stalledClient(port = relay.port): Promise<Socket> {
  const body = JSON.stringify({ model: "m:latest", prompt: "endless" });
  const sock = connect(port, "127.0.0.1");
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", () => r()));
  sock.write(`POST /t/${TUNNEL_ID}/api/generate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${CLIENT_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  const first = await new Promise<Buffer>((r) => sock.once("data", (d: Buffer) => (sock.pause(), r(d))));
  expect(first.toString("latin1")).toStartWith("HTTP/1.1 200 ");
  return sock;
}

// The answer's body at the relay is resumable (resume negotiated) or a plain stream (resume_window = "0s").
test.each([
  ["resume on", ""],
  ["resume off", 'resume_window = "0s"'],
])("%s: a client that stops reading holds the upstream back: the relay buffers a bounded amount, and another stream of the tunnel finishes meanwhile", async (_, extra) => {
  await start(extra);
  const relayBefore = rssMiB(relay.proc.pid).rss;
  const producedBefore = up.st.produced;
  const sock = await stalledClient();
  try {
    await Bun.sleep(2_500);
    const produced = up.st.produced - producedBefore;
    expect(produced).toBeLessThan(MAX_PRODUCED);
    // Still bounded a while later: the pipes are full, nothing more is generated.
    await Bun.sleep(500);
    expect(up.st.produced - producedBefore - produced).toBeLessThan(2 * MiB);
    expect(rssMiB(relay.proc.pid).rss - relayBefore).toBeLessThan(64);

    // No head-of-line blocking: a small answer on the same tunnel comes whole while the stalled one is held back.
    const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "m:latest", prompt: "short" }),
      signal: AbortSignal.timeout(5_000),
    });
    const lines = (await res.text()).trim().split("\n");
    expect(lines.length).toBe(201);
    expect(JSON.parse(lines.at(-1)!).done).toBe(true);
    // The stalled client leaves: its generation stops, and its stream slot comes back at the relay.
    sock.destroy();
    await until(async () => up.st.open === 0 && (await streamsActive()) === 0, 5_000);
  } finally {
    sock.destroy();
  }
}, 40_000);

test("the reverse: a client uploading fast to an upstream that reads slowly is held back; the relay buffers a bounded amount", async () => {
  await start("");
  const relayBefore = rssMiB(relay.proc.pid).rss;
  const filler = new Uint8Array(MiB).fill(0x61);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent === 0) c.enqueue(new TextEncoder().encode('{"model":"m:latest","messages":[{"role":"user","content":"'));
      sent += filler.length;
      c.enqueue(filler);
    },
  });
  const ac = new AbortController();
  const upload = fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" }, body, duplex: "half", signal: ac.signal } as RequestInit).catch(() => null);
  try {
    await until(() => up.st.uploaded > 4 * MiB, 10_000, "the upload to reach the upstream");
    await Bun.sleep(2_000);
    // What the client got rid of but the upstream has not read: in the pipes, bounded.
    expect(sent - up.st.uploaded).toBeLessThan(MAX_PRODUCED);
    expect(rssMiB(relay.proc.pid).rss - relayBefore).toBeLessThan(64);
  } finally {
    ac.abort();
    await upload;
  }
}, 40_000);

// Across the cluster hop the answer is read twice: by the client's node from the agent's node, and by the client.
requireTools(["redis-server"]).test("a client that stops reading at one cluster node, its tunnel's agent at another: the same bound on both nodes", async () => {
  const redis = await startRedis();
  const cluster = await startCluster({ redisUrl: redis.url, size: 2 });
  const [owner, entry] = [cluster.nodes[0]!, cluster.nodes[1]!];
  const agent = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${owner.url.replace(/^http/, "ws")}/agent` }));
  try {
    const before = [rssMiB(owner.proc.pid).rss, rssMiB(entry.proc.pid).rss];
    const producedBefore = up.st.produced;
    const sock = await stalledClient(entry.port);
    await Bun.sleep(2_500);
    expect(up.st.produced - producedBefore).toBeLessThan(MAX_PRODUCED);
    expect(rssMiB(owner.proc.pid).rss - before[0]!).toBeLessThan(64);
    expect(rssMiB(entry.proc.pid).rss - before[1]!).toBeLessThan(64);
    sock.destroy();
    await until(() => up.st.open === 0, 5_000, "the stalled generation to stop");
  } finally {
    await agent.stop();
    await cluster.stop();
    await redis.stop();
    cleanup(agent.home);
  }
}, 40_000);

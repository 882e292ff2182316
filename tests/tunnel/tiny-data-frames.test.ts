// Integration: request bodies sent as runs of tiny DATA frames, against a real daemon. A hostile relay (raw TCP) sends
// 1-byte DATA frames on open streams: each was its own chunk, woken, read, credited and held by the broker on its own
// (a promise chain and a pinned WebSocket message each), so the daemon grew by ~400 MiB and its loop spent seconds a
// turn on them; now a run of small frames is joined into one buffer read once a turn (stream.ts, SMALL_DATA). An honest
// relay forwards a client's tiny chunks the same way: such a body still arrives whole and the tunnel stays up.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { encode } from "../../src/protocol/codec.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, rssMiB, startAgentDaemon, startRelayProc } from "./helpers.ts";
import { startRawRelay, wsFrame, type RawRelay } from "./raw-relay.ts";

let fake: FakeOllama;

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: 3 });
});
afterAll(async () => {
  await fake?.stop();
});

const PREFIX = '{"model":"llama3.2:1b","messages":[{"role":"user","content":"';
const SUFFIX = '"}],"stream":false}';
const enc = new TextEncoder();

/** The chat requests the upstream received whose prompt is `n` x's: the body arrived whole, byte for byte. */
const whole = (from: number, n: number) =>
  fake.requests.slice(from).filter((r) => {
    const json = r.json as { messages?: { content?: string }[] } | undefined;
    return r.path === "/api/chat" && r.bodySize === PREFIX.length + n + SUFFIX.length && json?.messages?.[0]?.content === "x".repeat(n);
  }).length;

/** Writes all of `bytes` to the relay's connection `s` (which must still be its latest: the agent never reconnected). */
async function writeAll(relay: RawRelay, s: Socket<unknown>, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    expect(relay.agent as unknown).toBe(s);
    const w = s.write(bytes.subarray(off));
    expect(w).toBeGreaterThanOrEqual(0);
    off += w;
    if (off < bytes.length) await Bun.sleep(1);
  }
}

/** Streams and one-byte frames per stream: 655,360 frames, a window's worth of credit short on each stream. */
const STREAMS = 8;
const BLOCK = 256;
const BLOCKS = 320;
const PER_STREAM = BLOCK * BLOCKS;
/**
 * What the daemon's peak resident memory may grow by while it takes them. Before, every byte the broker held of a
 * body's first 64 KiB pinned its own message: ~400 MiB here. Joined, the frames cost a copy of their bytes (~40 MiB).
 */
const MAX_GROWTH_MIB = 150;

test("a relay sending 655,360 one-byte DATA frames on 8 open streams: they are joined for the reader (the daemon grows by tens of MiB, not hundreds), local /api/tags is answered meanwhile, and every body reaches the upstream whole", async () => {
  const relay = startRawRelay({ pause: false });
  // Heartbeats far apart: only the frames under test are in play, and a tolerance no loaded machine reaches.
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${relay.port}/agent`, heartbeat: ["10s", "120s"] }));
  try {
    const s = (await until(() => relay.agent, 5_000, "the agent's connection")) as Socket<unknown>;
    const from = fake.requests.length;
    const ids = Array.from({ length: STREAMS }, (_, k) => 1 + 2 * k);
    const data = (id: number, bytes: Uint8Array) => wsFrame(encode({ type: "DATA", stream: id, data: bytes }));
    // Heads without a length (a chunked body), then each prompt's start.
    await writeAll(relay, s, Buffer.concat(ids.map((id) => wsFrame(encode({ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/chat", headers: [["content-type", "application/json"]] } })))));
    await writeAll(relay, s, Buffer.concat(ids.map((id) => data(id, enc.encode(PREFIX)))));
    const before = rssMiB(daemon.proc.pid);
    let flooding = true;
    let tags = 0;
    const local = (async () => {
      while (flooding) {
        const res = await fetch(`${daemon.urls.broker}/api/tags`);
        expect(res.status).toBe(200);
        await res.text();
        tags++;
      }
    })();
    const block = Buffer.concat(ids.flatMap((id) => Array.from({ length: BLOCK }, () => data(id, new Uint8Array([120])))));
    for (let i = 0; i < BLOCKS; i++) await writeAll(relay, s, block);
    await writeAll(relay, s, Buffer.concat(ids.flatMap((id) => [data(id, enc.encode(SUFFIX)), wsFrame(encode({ type: "END", stream: id }))])));
    await until(() => whole(from, PER_STREAM) === STREAMS || null, 60_000, "every chat body at the upstream, whole");
    flooding = false;
    await local;
    const after = rssMiB(daemon.proc.pid);
    console.log(`tiny DATA: ${STREAMS * PER_STREAM} frames, daemon peak RSS ${before.rss.toFixed(0)} -> ${after.hwm.toFixed(0)} MiB, local /api/tags answered ${tags} times`);
    expect(after.hwm - before.rss).toBeLessThan(MAX_GROWTH_MIB);
    // Answered while the frames came (the last of them once they were in), and the connection was never cut.
    expect(tags).toBeGreaterThan(0);
    expect(relay.hellos).toBe(1);
    expect(daemon.stderr()).not.toMatch(/flood|protocol_error|\n\s+at |uncaught|unhandled/i);
  } finally {
    await daemon.stop();
    relay.stop();
    cleanup(daemon.home);
  }
}, 120_000);

test("an honest relay forwarding a client's 3,000 one-byte chunks: the body reaches the upstream byte for byte, and the tunnel stays up", async () => {
  const relay = await startRelayProc(relayToml());
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, heartbeat: ["10s", "120s"] }));
  try {
    const N = 3_000;
    const from = fake.requests.length;
    const parts = [enc.encode(PREFIX), ...Array.from({ length: N }, () => new Uint8Array([120])), enc.encode(SUFFIX)];
    let i = 0;
    // One chunk per pull: the client's HTTP body is 3,002 chunks, each forwarded as it comes.
    const body = new ReadableStream<Uint8Array>({ pull: (c) => (i < parts.length ? c.enqueue(parts[i++]!) : c.close()) });
    const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" }, body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { done?: boolean }).done).toBe(true);
    expect(whole(from, N)).toBe(1);
    // The tunnel is the one it was: the next request goes through it, and the agent never reconnected.
    const again = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect(again.status).toBe(200);
    await again.text();
    expect(daemon.stderr().match(/tunnel: connected to the relay/g)?.length).toBe(1);
    expect(daemon.stderr()).not.toMatch(/flood|protocol_error|relay connection failed/i);
  } finally {
    await daemon.stop();
    await relay.stop();
    cleanup(daemon.home, relay.dir);
  }
}, 60_000);

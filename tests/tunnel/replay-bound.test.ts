// [proxy] replay_buffer through a real relay and daemon: a large chunked upload to a slow upstream streams without being
// held (the agent's memory follows the bound, not the body), while a body under the bound still fails over.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, rssMiB, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

const MiB = 1024 * 1024;
const BOUND = 4 * MiB;
const auth = { Authorization: `Bearer ${CLIENT_KEY}` };

/** An upstream that serves model m:1b; its /api/chat reads the body (slowly for "a") and answers 503 ("a") or the size ("b"). */
function sink(name: "a" | "b") {
  const chats: number[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req) {
      const p = new URL(req.url).pathname;
      if (p === "/api/version") return Response.json({ version: "0.6.0" });
      if (p === "/api/tags") return Response.json({ models: [{ name: "m:1b", model: "m:1b" }] });
      if (p === "/api/ps") return Response.json({ models: [] });
      if (p !== "/api/chat" || !req.body) return new Response("not found", { status: 404 });
      let size = 0;
      let n = 0;
      for await (const c of req.body) {
        size += c.byteLength;
        // A slow reader: the agent must not read the client's body ahead of it into memory.
        if (name === "a" && ++n % 8 === 0) await Bun.sleep(2);
      }
      chats.push(size);
      if (name === "a") return Response.json({ error: "server busy" }, { status: 503 });
      return Response.json({ model: "m:1b", message: { role: "assistant", content: String(size) }, done: true });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, chats, stop: () => server.stop(true) };
}

/** A chat body of about `total` bytes, generated as it is sent (chunked: no Content-Length), the model first. */
function chatBody(total: number): { stream: ReadableStream<Uint8Array>; size: number } {
  const enc = new TextEncoder();
  const open = enc.encode('{"model":"m:1b","messages":[{"role":"user","content":"');
  const close = enc.encode('"}],"stream":false}');
  const filler = new Uint8Array(256 * 1024).fill(0x61);
  const middle = Math.max(0, total - open.length - close.length);
  let sent = -1;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent < 0) {
        sent = 0;
        return c.enqueue(open);
      }
      if (sent >= middle) {
        c.enqueue(close);
        return c.close();
      }
      const n = Math.min(filler.length, middle - sent);
      sent += n;
      c.enqueue(n === filler.length ? filler : filler.subarray(0, n));
    },
  });
  return { stream, size: open.length + middle + close.length };
}

let a: ReturnType<typeof sink>;
let b: ReturnType<typeof sink>;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  a = sink("a");
  b = sink("b");
  relay = await startRelayProc(relayToml());
  // "a" (priority 1) is tried first, "b" second.
  const toml =
    daemonToml({ upstream: a.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }).replace('[proxy]\nlisten = "127.0.0.1:0"\n', `[proxy]\nlisten = "127.0.0.1:0"\nreplay_buffer = ${BOUND}\n`) +
    `\n[[upstreams]]\nname = "b"\nurl = "${b.url}"\npriority = 200\n`;
  daemon = await startAgentDaemon(toml);
  for (let i = 0; i < 200; i++) {
    const s = (await (await fetch(`${daemon.urls.api}/api/v1/upstreams`)).json()) as { upstreams?: { state: string }[] } | { state: string }[];
    const list = Array.isArray(s) ? s : (s.upstreams ?? []);
    if (list.length === 2 && list.every((u) => u.state === "up")) break;
    await Bun.sleep(50);
  }
}, 40_000);

afterAll(async () => {
  await daemon?.stop();
  await relay?.stop();
  a?.stop();
  b?.stop();
  cleanup(relay?.dir, daemon?.home);
});

/** A chunked chat through the relay, or from this machine to the broker's own listener (`local`). */
async function chat(total: number, local = false): Promise<{ status: number; text: string; size: number }> {
  const body = chatBody(total);
  const res = await fetch(local ? `${daemon.urls.broker}/api/chat` : `${relay.url}/t/${TUNNEL_ID}/api/chat`, {
    method: "POST",
    headers: { ...(local ? {} : auth), "content-type": "application/json" },
    body: body.stream,
    // @ts-expect-error streamed request body
    duplex: "half",
  });
  return { status: res.status, text: await res.text(), size: body.size };
}

test("a body under the bound still fails over: the first upstream's 503 is retried on the second with the whole body", async () => {
  const r = await chat(2 * MiB);
  expect(r.status).toBe(200);
  expect(JSON.parse(r.text).message.content).toBe(String(r.size));
  expect(a.chats.at(-1)).toBe(r.size);
  expect(b.chats.at(-1)).toBe(r.size);
});

/** The daemon's peak resident growth (MiB) while `run` goes. */
async function peakGrowth(d: DaemonProc, run: () => Promise<unknown>): Promise<number> {
  // The peak (VmHWM) from now on: an earlier test's peak must not hide this one's (Linux resets it on "5").
  try {
    writeFileSync(`/proc/${d.proc.pid}/clear_refs`, "5");
  } catch {}
  const before = rssMiB(d.proc.pid);
  await run();
  const after = rssMiB(d.proc.pid);
  return after.hwm - before.rss;
}

for (const [via, local] of [
  ["through the tunnel", false],
  ["from this machine", true],
] as const)
  test(`a 60 MB chunked upload ${via} to a slow upstream streams in one attempt and the agent's memory grows with the bound, not the body`, async () => {
    // Warm the paths (and the allocator) with uploads beyond the bound first, then measure one large upload.
    for (let i = 0; i < 2; i++) expect((await chat(16 * MiB, local)).status).toBe(503);
    const bChats = b.chats.length;
    let r!: Awaited<ReturnType<typeof chat>>;
    const growth = await peakGrowth(daemon, async () => (r = await chat(60 * 1000 * 1000, local)));
    // Beyond the bound: one attempt, no failover, the first upstream's answer reaches the client; the whole body arrived.
    expect(r.status).toBe(503);
    expect(a.chats.at(-1)).toBe(r.size);
    expect(b.chats.length).toBe(bChats);
    console.log(`60 MB upload ${via}, replay_buffer ${BOUND / MiB} MiB: agent peak RSS growth ${growth.toFixed(1)} MiB`);
    // Holding the body (old: its 32 MiB prefix, a joined copy of it and a framed copy of that) grows the agent by ~90 MiB.
    expect(growth).toBeLessThan(BOUND / MiB + 32);
  }, 60_000);

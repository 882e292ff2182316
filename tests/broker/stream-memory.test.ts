// Memory per open stream through a real daemon: N generate streams held open at once grow its RSS by less than a stated
// bound per stream, so nothing of a stream (its request body, a copy of its answer) is kept beyond what it needs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { QUIET_MS } from "../../src/core/idle-gc.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";

/**
 * The stated bounds (docs/performance.md, "Memory bounds"): an open stream holds its sockets, its exchange and its
 * parsers, measured at a few KiB of heap; the bounds leave room for noise. Each stream's request carries a BODY_BYTES
 * prompt, so a broker that kept every body until its stream ended (as it did: a closure held the handler's scope)
 * grows by 256 KiB per stream and fails.
 */
const MAX_KIB_PER_STREAM = 64;
const MAX_RSS_KIB_PER_STREAM = 128;
const BODY_BYTES = 256 * 1024;
const STREAMS = 100;

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

/** An upstream whose generations send one line and then wait until released: the streams stay open as long as the test wants. */
function holdingUpstream() {
  let release!: () => void;
  let released = new Promise<void>((r) => (release = r));
  const enc = new TextEncoder();
  let open = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:latest", model: "m:latest", size: 1, digest: "x", modified_at: new Date().toISOString(), details: {} }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      if (path !== "/api/generate") return new Response("not found", { status: 404 });
      await req.arrayBuffer();
      const gate = released;
      open++;
      return new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(enc.encode(`${JSON.stringify({ model: "m:latest", response: "x", done: false })}\n`));
            await gate;
            c.enqueue(enc.encode(`${JSON.stringify({ model: "m:latest", response: "", done: true, eval_count: 1 })}\n`));
            c.close();
            open--;
          },
        }),
        { headers: { "content-type": "application/x-ndjson" } },
      );
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    get open() {
      return open;
    },
    /** Ends every held stream, and holds the next ones again. */
    releaseAll() {
      release();
      released = new Promise<void>((r) => (release = r));
    },
    stop: () => server.stop(true),
  };
}

let up: ReturnType<typeof holdingUpstream>;
let d: DaemonProc;

beforeAll(async () => {
  up = holdingUpstream();
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "local"\nurl = "${up.url}"\n`,
    waitFor: ["api", "broker"],
  });
});
afterAll(async () => {
  up?.releaseAll();
  await d?.stop();
  await up?.stop();
  if (d) removeHome(d.home);
});

async function heapUsed(): Promise<number> {
  const r = await fetch(`${d.urls.api}/api/v1/metrics`);
  return ((await r.json()) as { process: { heapUsedBytes: number } }).process.heapUsedBytes;
}

/** Opens `n` streams and resolves once each has its first line; returns how to read them to the end. */
async function openStreams(n: number): Promise<(() => Promise<void>)[]> {
  const prompt = "p".repeat(BODY_BYTES);
  const body = JSON.stringify({ model: "m:latest", prompt, stream: true });
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(`${d.urls.broker}/api/generate`, { method: "POST", body, headers: { "content-type": "application/json" } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      return async () => {
        while (!(await reader.read()).done);
      };
    }),
  );
}

/** After the broker's collection when it goes quiet (src/core/idle-gc.ts): what is live, not the garbage of getting there. */
async function settled(): Promise<{ rss: number; heap: number }> {
  await Bun.sleep(QUIET_MS + 1000);
  return { rss: rssKiB(d.proc.pid), heap: (await heapUsed()) / 1024 };
}

test(`${STREAMS} open streams grow the broker's heap by less than ${MAX_KIB_PER_STREAM} KiB each, RSS by less than ${MAX_RSS_KIB_PER_STREAM}`, async () => {
  // Two rounds first: the broker's code paths, pools, the API (loaded by its first request) reach their working size.
  await heapUsed();
  for (let round = 0; round < 2; round++) {
    const rest = await openStreams(STREAMS);
    up.releaseAll();
    await Promise.all(rest.map((f) => f()));
  }
  const before = await settled();
  const rest = await openStreams(STREAMS);
  expect(up.open).toBe(STREAMS);
  const during = await settled();
  up.releaseAll();
  await Promise.all(rest.map((f) => f()));
  const heapPerStream = (during.heap - before.heap) / STREAMS;
  const rssPerStream = (during.rss - before.rss) / STREAMS;
  const mib = (k: number) => (k / 1024).toFixed(1);
  console.log(
    `broker with ${STREAMS} streams open (${BODY_BYTES / 1024} KiB request bodies): heap ${mib(before.heap)} → ${mib(during.heap)} MiB, ${heapPerStream.toFixed(1)} KiB per stream; RSS ${mib(before.rss)} → ${mib(during.rss)} MiB, ${rssPerStream.toFixed(1)} KiB per stream`,
  );
  expect(heapPerStream).toBeLessThan(MAX_KIB_PER_STREAM);
  expect(rssPerStream).toBeLessThan(MAX_RSS_KIB_PER_STREAM);
}, 60_000);

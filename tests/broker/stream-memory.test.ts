// Memory per open stream through a real daemon: N generate streams held open at once grow its RSS by less than a stated
// bound per stream, so nothing of a stream (its request body, a copy of its answer) is kept beyond what it needs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { QUIET_MS } from "../../src/core/idle-gc.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { holdingUpstream, type HoldingUpstream } from "../helpers/holding-upstream.ts";

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

let up: HoldingUpstream;
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

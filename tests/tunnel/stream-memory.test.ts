// Memory through the tunnel (real relay + daemon): each side returns within 10 MiB of its rest once a burst is over;
// what an open stream holds on each side, stated and held per stream; and a large upload after a burst of small
// requests grows neither process by more than a bound far below its size.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { QUIET_MS, SHRINK_MS } from "../../src/core/idle-gc.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, generatedBody, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { holdingUpstream, type HoldingUpstream } from "../helpers/holding-upstream.ts";

/**
 * The stated bounds (docs/performance.md, "Memory per open stream"): an open tunnel stream holds its stream state,
 * credit windows and the broker's exchange, measured at a few KiB of heap on the daemon and under 100 KiB of RSS on
 * either side; the bounds leave room for noise. Each request carries a BODY_BYTES prompt (over the 64 KiB whole-body
 * size, so it streams through the credit windows), so a side that kept bodies or windows' worth of buffers per open
 * stream would fail.
 */
const STREAMS = 100;
const BODY_BYTES = 256 * 1024;
const MAX_HEAP_KIB_PER_STREAM = 64;
const MAX_RSS_KIB_PER_STREAM = 160;
/** Anonymous memory each side may keep over its rest once a burst is over and it has been quiet SHRINK_MS (issue 27: 10 MiB of RSS). */
const MAX_AFTER_BURST_MIB = 10;
/** The upload, and what it may add to either process's peak (VmHWM) over its resident memory before it. */
const UPLOAD_BYTES = 100 * 1024 * 1024;
const MAX_UPLOAD_GROWTH_MIB = 40;

const auth = { Authorization: `Bearer ${CLIENT_KEY}` };

function status(pid: number, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

let up: HoldingUpstream;
let relay: RelayProc;
let daemon: DaemonProc;
let base: string;

beforeAll(async () => {
  up = holdingUpstream();
  up.state.hold = false;
  relay = await startRelayProc(relayToml());
  daemon = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true\n[logging]\nrequests = false\n" }));
  base = `${relay.url}/t/${TUNNEL_ID}`;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}/api/tags`, { headers: auth });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
    await Bun.sleep(100);
  }
});
afterAll(async () => {
  up?.releaseAll();
  await daemon?.stop();
  await relay?.stop();
  await up?.stop();
  cleanup(daemon?.home, relay?.dir);
});

/** 16 clients of small generate requests for `ms`, as bench/footprint.ts runs (wrk there); returns how many were made. */
async function burst(ms: number): Promise<number> {
  const small = JSON.stringify({ model: "m:latest", prompt: "hi", stream: false });
  const until = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        const r = await fetch(`${base}/api/generate`, { method: "POST", body: small, headers: { ...auth, "content-type": "application/json" } });
        expect(r.status).toBe(200);
        await r.arrayBuffer();
        done++;
      }
    }),
  );
  return done;
}

async function daemonHeapKiB(): Promise<number> {
  const r = await fetch(`${daemon.urls.api}/api/v1/metrics`);
  return ((await r.json()) as { process: { heapUsedBytes: number } }).process.heapUsedBytes / 1024;
}

/** Opens `n` streams through the tunnel and resolves once each has its first line; returns how to read them to the end. */
async function openStreams(n: number): Promise<(() => Promise<void>)[]> {
  const body = JSON.stringify({ model: "m:latest", prompt: "p".repeat(BODY_BYTES), stream: true });
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(`${base}/api/generate`, { method: "POST", body, headers: { ...auth, "content-type": "application/json" } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      expect((await reader.read()).done).toBe(false);
      return async () => {
        while (!(await reader.read()).done);
      };
    }),
  );
}

/** After both sides' collection when they go quiet (src/core/idle-gc.ts): what is live, not the garbage of getting there. */
async function settled(): Promise<{ relayRss: number; daemonRss: number; daemonHeap: number }> {
  await Bun.sleep(QUIET_MS + 1000);
  return { relayRss: status(relay.proc.pid, "VmRSS"), daemonRss: status(daemon.proc.pid, "VmRSS"), daemonHeap: await daemonHeapKiB() };
}

// First in the file: the rest is each process's before any load.
test(`after a burst of small requests each side's anonymous memory returns within ${MAX_AFTER_BURST_MIB} MiB of its rest`, async () => {
  for (let i = 0; i < 20; i++) await (await fetch(`${base}/api/tags`, { headers: auth })).arrayBuffer();
  await Bun.sleep(QUIET_MS + 1000);
  // Anonymous memory (the heap, the allocators, the JIT's code): the executable's pages that the load ran stay
  // resident too (3–4 MiB here, from source), but they are the runtime's code, shared and not ours to give back.
  const anon = () => ({ relay: status(relay.proc.pid, "RssAnon"), daemon: status(daemon.proc.pid, "RssAnon") });
  const rss = () => ({ relay: status(relay.proc.pid, "VmRSS"), daemon: status(daemon.proc.pid, "VmRSS") });
  const rest = { anon: anon(), rss: rss() };
  const done = await burst(3000);
  await Bun.sleep(SHRINK_MS + 2000);
  const now = { anon: anon(), rss: rss() };
  const mib = (k: number) => (k / 1024).toFixed(1);
  const over = { relay: (now.anon.relay - rest.anon.relay) / 1024, daemon: (now.anon.daemon - rest.anon.daemon) / 1024 };
  console.log(
    `${done} small requests: ${(SHRINK_MS + 2000) / 1000} s later, anonymous memory over rest: relay +${over.relay.toFixed(1)} MiB, daemon +${over.daemon.toFixed(1)} MiB (RSS +${mib(now.rss.relay - rest.rss.relay)}, +${mib(now.rss.daemon - rest.rss.daemon)})`,
  );
  expect(over.relay).toBeLessThan(MAX_AFTER_BURST_MIB);
  expect(over.daemon).toBeLessThan(MAX_AFTER_BURST_MIB);
}, 60_000);

test(`${STREAMS} open tunnel streams grow the daemon's heap by less than ${MAX_HEAP_KIB_PER_STREAM} KiB each, each side's RSS by less than ${MAX_RSS_KIB_PER_STREAM}`, async () => {
  up.state.hold = true;
  try {
    // Two rounds first: both sides' code paths, pools and the daemon's API reach their working size.
    await daemonHeapKiB();
    for (let round = 0; round < 2; round++) {
      const ends = await openStreams(STREAMS);
      up.releaseAll();
      await Promise.all(ends.map((f) => f()));
    }
    const before = await settled();
    const ends = await openStreams(STREAMS);
    expect(up.open).toBe(STREAMS);
    const during = await settled();
    up.releaseAll();
    await Promise.all(ends.map((f) => f()));
    const per = (a: number, b: number) => (b - a) / STREAMS;
    const heap = per(before.daemonHeap, during.daemonHeap);
    const relayRss = per(before.relayRss, during.relayRss);
    const daemonRss = per(before.daemonRss, during.daemonRss);
    console.log(
      `tunnel with ${STREAMS} streams open (${BODY_BYTES / 1024} KiB request bodies), per stream: daemon heap ${heap.toFixed(1)} KiB, daemon RSS ${daemonRss.toFixed(1)} KiB, relay RSS ${relayRss.toFixed(1)} KiB`,
    );
    expect(heap).toBeLessThan(MAX_HEAP_KIB_PER_STREAM);
    expect(daemonRss).toBeLessThan(MAX_RSS_KIB_PER_STREAM);
    expect(relayRss).toBeLessThan(MAX_RSS_KIB_PER_STREAM);
  } finally {
    up.state.hold = false;
  }
}, 90_000);

test(`a ${UPLOAD_BYTES / 1024 / 1024} MB upload after a burst of small requests grows neither side's peak by more than ${MAX_UPLOAD_GROWTH_MIB} MiB`, async () => {
  // The burst grows the heap far enough that JavaScriptCore let an upload's dead buffers pile up (41 MB of 100 MB in
  // the relay).
  const done = await burst(2000);
  expect(done).toBeGreaterThan(100);
  await Bun.sleep(QUIET_MS + 1000);
  const rest = { relay: status(relay.proc.pid, "VmRSS"), daemon: status(daemon.proc.pid, "VmRSS") };
  // VmHWM from here on (clear_refs 5 resets a process's peak to its current RSS).
  for (const p of [relay.proc.pid, daemon.proc.pid]) writeFileSync(`/proc/${p}/clear_refs`, "5");
  const before = up.received;
  const t0 = performance.now();
  const res = await fetch(`${base}/api/blobs/sha256:${"0".repeat(64)}`, { method: "POST", body: generatedBody(UPLOAD_BYTES), headers: auth, duplex: "half" } as RequestInit);
  expect(res.status).toBe(201);
  expect(up.received - before).toBe(UPLOAD_BYTES);
  const growth = { relay: (status(relay.proc.pid, "VmHWM") - rest.relay) / 1024, daemon: (status(daemon.proc.pid, "VmHWM") - rest.daemon) / 1024 };
  console.log(`${UPLOAD_BYTES / 1024 / 1024} MB upload (${(performance.now() - t0).toFixed(0)} ms) after ${done} small requests: peak over rest, relay +${growth.relay.toFixed(1)} MiB, daemon +${growth.daemon.toFixed(1)} MiB`);
  expect(growth.relay).toBeLessThan(MAX_UPLOAD_GROWTH_MIB);
  expect(growth.daemon).toBeLessThan(MAX_UPLOAD_GROWTH_MIB);
}, 90_000);

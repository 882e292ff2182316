// Objects a daemon's broker allocates per request, counted deterministically (not timed): the daemon runs with
// tests/helpers/heap-probe.ts preloaded and JavaScriptCore's collections held off (no allocation limit reached, no
// collection timers), so every object a request allocates is still in the heap when it is counted. One keep-alive
// connection sends the same small POST `count` times; the objects by type before and after, divided by `count`.
// Used by tests/broker/hot-path-allocations.test.ts (a bound) and bench/broker-alloc.ts (the figures).
import type { Socket } from "bun";
import { join } from "node:path";
import type { DaemonProc } from "./daemon.ts";

export const PROBE_PRELOAD = ["--preload", join(import.meta.dir, "heap-probe.ts")];

/** Environment that keeps JavaScriptCore from collecting while the requests are counted (plus its log, to check that). */
export const NO_COLLECTION_ENV: Record<string, string> = {
  // The allocation limits gigabytes away (the first one, and each later one as a multiple of the heap after a
  // collection); no eden or full collection on JSC's timers; none on Bun's.
  BUN_JSC_largeHeapSize: String(4 * 1024 ** 3),
  BUN_JSC_smallHeapGrowthFactor: "500",
  BUN_JSC_percentCPUPerMBForEdenTimer: "0",
  BUN_JSC_percentCPUPerMBForFullTimer: "0",
  BUN_GC_TIMER_DISABLE: "1",
  BUN_JSC_logGC: "1",
};

/** A process started with PROBE_PRELOAD: a daemon, or a relay (tests/tunnel/relay-allocations.test.ts). */
type Probed = Pick<DaemonProc, "proc" | "stderr">;

interface Probe {
  timers: { setTimeout: number; setInterval: number };
  objects: Record<string, number>;
}

async function probe(p: Probed): Promise<Probe> {
  const from = p.stderr().length;
  process.kill(p.proc.pid, "SIGUSR2");
  for (let i = 0; i < 500; i++) {
    const m = /heap-probe (.*)/.exec(p.stderr().slice(from));
    if (m) return JSON.parse(m[1]!) as Probe;
    await Bun.sleep(10);
  }
  throw new Error("the daemon wrote no heap-probe line (was it started with PROBE_PRELOAD?)");
}

/** The live objects after a full collection: one pair of signals, the first collecting and counting, the second dropped. */
export async function liveObjects(p: Probed): Promise<Probe> {
  const collected = await probe(p);
  await probe(p);
  return collected;
}

/** Sends `count` copies of `request` (raw HTTP/1.1 bytes) one after another on one connection; answers must be 200. */
export async function sendSequential(url: string, request: Uint8Array, count: number): Promise<void> {
  const u = new URL(url);
  let buf: Buffer | null = null;
  let left = count;
  let done!: (e?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (done = (e) => (e ? reject(e) : resolve())));
  const s: Socket = await Bun.connect({
    hostname: u.hostname,
    port: Number(u.port),
    socket: {
      data(sock, chunk) {
        buf = buf ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString("latin1");
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!cl) return done(new Error(`an answer without Content-Length: ${head}`));
        if (buf.length < end + 4 + Number(cl[1])) return;
        if (!head.startsWith("HTTP/1.1 200")) return done(new Error(`answered ${head.split("\r\n")[0]}`));
        buf = null;
        if (--left === 0) return done();
        sock.write(request);
      },
      close: () => done(new Error(`the connection closed with ${left} requests left`)),
      error: (_s, e) => done(e),
    },
  });
  s.write(request);
  try {
    await finished;
  } finally {
    s.end();
  }
}

export interface PerRequest {
  /** Objects (JSC cells) allocated per request, in all and by type (types of at least 0.05 per request). */
  cells: number;
  byType: Record<string, number>;
  /** Timers created per request (setTimeout + setInterval). */
  timers: number;
  /** Collections that ran while counting (must be 0 for the figures to hold). */
  collections: number;
}

/** Warms the path with `warm` requests, then counts what `count` more allocate. `p` must run with PROBE_PRELOAD and NO_COLLECTION_ENV. */
export async function allocationsPerRequest(p: Probed, url: string, request: Uint8Array, warm: number, count: number): Promise<PerRequest> {
  await sendSequential(url, request, warm);
  const a = await probe(p);
  const logFrom = p.stderr().length;
  await sendSequential(url, request, count);
  const b = await probe(p);
  const log = p.stderr().slice(logFrom);
  const collections = (log.match(/=> \w+Collection/g) ?? []).length;
  if (collections && process.env.DEBUG_ALLOC) console.error(log.split("\n").filter((l) => /Collection|Requesting/.test(l)).join("\n"));
  let cells = 0;
  const byType: Record<string, number> = {};
  for (const [t, n] of Object.entries(b.objects)) {
    const d = n - (a.objects[t] ?? 0);
    cells += d;
    if (d / count >= 0.05) byType[t] = Math.round((d / count) * 100) / 100;
  }
  const timers = b.timers.setTimeout + b.timers.setInterval - a.timers.setTimeout - a.timers.setInterval;
  return { cells: cells / count, byType, timers: timers / count, collections };
}

/** A small POST /api/generate (stream: false) as raw bytes, for `host`. */
export function generateRequest(host: string, model: string): Uint8Array {
  const body = JSON.stringify({ model, prompt: "hi", stream: false, options: { num_predict: 1 } });
  return Buffer.from(`POST /api/generate HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
}

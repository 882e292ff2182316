// Open-loop load generator, run as its own process: sends GETs on a fixed schedule (not waiting for answers) and reports latencies.
//
//   bun bench/lib/open-loop.ts --url URL --rate 500 --seconds 10 [--warmup 2] [--header "k: v"]
//
// Requests go out on schedule whether or not earlier ones were answered (no coordinated omission: a slow server
// faces the full rate): each goes on an idle kept-alive connection, or a new one when all are busy. It speaks
// HTTP/1.1 over raw sockets on the main thread, because fetch hands every request to another thread and back, and
// that hop showed up as milliseconds of "server" latency at p99. Latency runs from the write to the last body byte.
// Prints one JSON line: { latenciesMs: [...], errors, sent, achievedRate }.
import { parseArgs } from "node:util";
import type { Socket } from "bun";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    header: { type: "string", multiple: true, default: [] },
  },
});
const url = new URL(values.url!);
const rate = Number(values.rate);
const interval = 1000 / rate;
const extra = values.header!.map((h) => `${h}\r\n`).join("");
const request = new TextEncoder().encode(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n${extra}\r\n`);

interface Conn {
  socket: Socket<Conn> | null;
  busy: boolean;
  sentAt: number;
  buf: Buffer;
  onDone: ((ok: boolean) => void) | null;
}

const HEAD_END = Buffer.from("\r\n\r\n");
/** Bytes of the whole response once complete, else -1 (Content-Length or chunked). */
function complete(buf: Buffer): { len: number; status: number } | null {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString("latin1");
  const status = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const len = end + 4 + Number(cl[1]);
    return buf.length >= len ? { len, status } : null;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const term = buf.indexOf("\r\n0\r\n\r\n", end);
    return term >= 0 ? { len: term + 7, status } : null;
  }
  return { len: end + 4, status };
}

const idle: Conn[] = [];

function finish(c: Conn, ok: boolean) {
  const done = c.onDone;
  c.onDone = null;
  c.busy = false;
  c.buf = Buffer.alloc(0);
  if (ok && c.socket) idle.push(c);
  done?.(ok);
}

async function open(): Promise<Conn> {
  const c: Conn = { socket: null, busy: false, sentAt: 0, buf: Buffer.alloc(0), onDone: null };
  c.socket = await Bun.connect<Conn>({
    hostname: url.hostname,
    port: Number(url.port),
    data: c,
    socket: {
      data(s, chunk) {
        const conn = s.data;
        conn.buf = conn.buf.length ? Buffer.concat([conn.buf, chunk]) : Buffer.from(chunk);
        const r = complete(conn.buf);
        if (r) finish(conn, r.status >= 200 && r.status < 400);
      },
      close(s) {
        const conn = s.data;
        conn.socket = null;
        const i = idle.indexOf(conn);
        if (i >= 0) idle.splice(i, 1);
        if (conn.busy) finish(conn, false);
      },
      error(s) {
        s.data.socket = null;
        if (s.data.busy) finish(s.data, false);
      },
    },
  });
  return c;
}

function send(record: (ms: number, ok: boolean) => void): Promise<void> {
  return new Promise((resolve) => {
    const go = (c: Conn) => {
      c.busy = true;
      c.onDone = (ok) => {
        record(performance.now() - c.sentAt, ok);
        resolve();
      };
      c.sentAt = performance.now();
      c.socket!.write(request);
    };
    const c = idle.pop();
    if (c) go(c);
    else
      open().then(go, () => {
        record(0, false);
        resolve();
      });
  });
}

async function run(seconds: number, keep: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const total = Math.round(seconds * rate);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    // Sleep, never spin: a spinning loop would hold back the answers that arrive meanwhile and inflate their latency.
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    inflight.push(
      send((ms, ok) => {
        if (!ok) errors++;
        else if (keep) latencies.push(ms);
      }),
    );
  }
  await Promise.all(inflight);
  return { latencies, errors, sent: total, achievedRate: total / ((performance.now() - t0) / 1000) };
}

await run(Number(values.warmup), false);
const r = await run(Number(values.seconds), true);
for (const c of idle) c.socket?.end();
console.log(JSON.stringify({ latenciesMs: r.latencies, errors: r.errors, sent: r.sent, achievedRate: r.achievedRate }));
process.exit(0);

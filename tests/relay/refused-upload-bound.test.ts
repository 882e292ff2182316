// A refused upload (a wrong key) is read only so far before its answer: an endless body, sent fast or trickled in,
// gets its 401 within the relay's drain bounds (src/relay/bounded-drain.ts) and the connection closes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect as tcp } from "node:net";
import { DRAIN_MAX_BYTES, DRAIN_MAX_MS } from "../../src/relay/bounded-drain.ts";
import { requireTools } from "../helpers/requires.ts";
import { startHaproxy, startNginx } from "./cluster-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

let relay: RelayProc;
/** The same relay with idle_timeout "0s": Bun would otherwise keep the connection and read the endless body itself. */
let noIdle: RelayProc;

beforeAll(async () => {
  // max_body_bytes 1 MiB: the 413 case.
  const toml = relayToml().replace("max_body_bytes = 2000000000", "max_body_bytes = 1048576");
  [relay, noIdle] = await Promise.all([startRelayProc(toml), startRelayProc(relayToml({ limits: 'idle_timeout = "0s"' }))]);
}, 30_000);

afterAll(async () => {
  await Promise.all([relay?.stop(), noIdle?.stop()]);
  cleanup(relay?.dir, noIdle?.dir);
});

/** A wrong key, a chunked body. */
const BAD_KEY_CHUNKED = "Authorization: Bearer not-the-key\r\nTransfer-Encoding: chunked\r\n";

/**
 * Sends a body that never ends (a chunk every `everyMs`, or as fast as the socket takes them) with a wrong key (or
 * `o.lines`); resolves with what the relay answered, how many body bytes the socket took, and whether the relay closed
 * the connection.
 */
function endlessUpload(chunk: number, everyMs: number, giveUpMs: number, o: { port?: number; lines?: string } = {}): Promise<{ head: string; sent: number; closed: boolean; ms: number }> {
  const port = o.port ?? relay.port;
  const lines = o.lines ?? BAD_KEY_CHUNKED;
  const chunked = /transfer-encoding: chunked/i.test(lines);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = tcp(port, "127.0.0.1");
    let head = "";
    let sent = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      sock.destroy();
      resolve({ head, sent, closed, ms: performance.now() - t0 });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    const data = Buffer.alloc(chunk, 0x61);
    const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.toString(16)}\r\n`), data, Buffer.from("\r\n")]) : data;
    const pump = () => {
      if (done) return;
      if (everyMs > 0) {
        sock.write(frame, () => (sent += chunk));
        timer = setTimeout(pump, everyMs);
        return;
      }
      // As fast as the socket takes them: the next chunk when the last one is flushed.
      while (!done && sock.write(frame)) sent += chunk;
      sent += chunk;
    };
    sock.on("drain", () => everyMs === 0 && pump());
    sock.on("data", (b) => (head += b.toString("latin1")));
    sock.on("end", () => finish(true));
    sock.on("close", () => finish(true));
    sock.on("error", () => {
      // A reset while still sending: the relay closed the connection (its answer may have arrived first).
      finish(true);
    });
    sock.on("connect", () => {
      sock.write(`POST /t/${TUNNEL_ID}/api/chat HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n${lines}\r\n`);
      pump();
    });
  });
}

/**
 * The answer to a client still sending fast when the bound cuts it: the relay closes on bytes it never read, so the
 * client's kernel gets a reset right behind the answer and may drop it unread (as after nginx's lingering_time); what
 * did arrive must be the refusal, closing. (A client trickling its body, below, gets the answer whole.)
 */
function refusedOrReset(head: string, status: number): void {
  if (head === "") return;
  expect(head).toStartWith(`HTTP/1.1 ${status}`);
  expect(head.toLowerCase()).toContain("connection: close");
}

test("an endless upload with a wrong key is answered 401 after at most the drain's bytes, and its connection closed", async () => {
  const r = await endlessUpload(64 * 1024, 0, 20_000);
  refusedOrReset(r.head, 401);
  expect(r.closed).toBe(true);
  // What the socket took: the drain's bound plus the kernel's buffers on both ends (a few MiB at most), never the whole upload.
  expect(r.sent).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
}, 30_000);

test("an endless upload trickled in with a wrong key is answered 401 after at most the drain's time, and its connection closed", async () => {
  const r = await endlessUpload(1024, 50, DRAIN_MAX_MS + 10_000);
  expect(r.head).toStartWith("HTTP/1.1 401");
  expect(r.head.toLowerCase()).toContain("connection: close");
  expect(r.closed).toBe(true);
  expect(r.ms).toBeGreaterThanOrEqual(DRAIN_MAX_MS - 500);
}, 30_000);

test('with idle_timeout "0s" too, an endless upload with a wrong key is answered 401 and its connection closed after the drain\'s bytes', async () => {
  const r = await endlessUpload(64 * 1024, 0, 20_000, { port: noIdle.port });
  refusedOrReset(r.head, 401);
  expect(r.closed).toBe(true);
  expect(r.sent).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
}, 30_000);

test("with the right key, a body declared over max_body_bytes (413) is drained within the same bounds and its connection closed", async () => {
  const r = await endlessUpload(64 * 1024, 0, 20_000, { lines: `Authorization: Bearer ${CLIENT_KEY}\r\nContent-Length: ${10 * 1024 ** 3}\r\n` });
  refusedOrReset(r.head, 413);
  expect(r.closed).toBe(true);
  expect(r.sent).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
}, 30_000);

test("a small refused upload is still read to its end and answered 401", async () => {
  const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: "Bearer not-the-key" }, body: new Uint8Array(512 * 1024) });
  expect(res.status).toBe(401);
  await res.arrayBuffer();
});

requireTools(["haproxy", "nginx"]).test("behind the docs' HAProxy and nginx, a refused upload within the bounds still gets its 401 or 413, not a 502", async () => {
  const proxies = await Promise.all([startHaproxy([relay]), startNginx([relay])]);
  try {
    const got: Record<string, number[]> = {};
    for (const [name, p] of [["haproxy", proxies[0]], ["nginx", proxies[1]]] as const) {
      got[name] = [];
      for (const key of ["not-the-key", CLIENT_KEY]) {
        // 2 MiB: over this relay's max_body_bytes (1 MiB), so the right key gets its 413.
        const res = await fetch(`${p.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: new Uint8Array(2 * 1024 * 1024) });
        await res.arrayBuffer();
        got[name]!.push(res.status);
      }
    }
    expect(got).toEqual({ haproxy: [401, 413], nginx: [401, 413] });
  } finally {
    await Promise.all(proxies.map((p) => p.stop("SIGKILL")));
  }
}, 30_000);

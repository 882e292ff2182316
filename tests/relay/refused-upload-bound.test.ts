// A refused upload (a wrong key) is read only so far before its answer: an endless body, sent fast or trickled in,
// gets its 401 within the relay's drain bounds (src/relay/bounded-drain.ts), before its connection closes (lingering-close.ts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { DRAIN_MAX_BYTES, DRAIN_MAX_MS } from "../../src/relay/bounded-drain.ts";
import { requireTools } from "../helpers/requires.ts";
import { startHaproxy, startNginx } from "./cluster-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { endlessUpload as upload, refusedClosing, type EndlessUploadOptions } from "./endless-upload.ts";

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

/** To this file's relay unless told otherwise. */
const endlessUpload = (chunk: number, everyMs: number, giveUpMs: number, o: EndlessUploadOptions & { port?: number } = {}) => upload(o.port ?? relay.port, chunk, everyMs, giveUpMs, o);

test("an endless upload with a wrong key is answered 401 after at most the drain's bytes, and its connection closed", async () => {
  const r = await endlessUpload(64 * 1024, 0, 20_000);
  refusedClosing(r.head, 401);
  expect(r.closed).toBe(true);
  // What the socket took before the answer: the drain's bound plus the kernel's buffers on both ends (a few MiB at most).
  // (After it the relay reads on for its lingering close, bounded by time: lingering-close.ts.)
  expect(r.sentAtAnswer).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
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
  refusedClosing(r.head, 401);
  expect(r.closed).toBe(true);
  expect(r.sentAtAnswer).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
}, 30_000);

test("with the right key, a body declared over max_body_bytes (413) is drained within the same bounds and its connection closed", async () => {
  const r = await endlessUpload(64 * 1024, 0, 20_000, { lines: `Authorization: Bearer ${CLIENT_KEY}\r\nContent-Length: ${10 * 1024 ** 3}\r\n` });
  refusedClosing(r.head, 413);
  expect(r.closed).toBe(true);
  expect(r.sentAtAnswer).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
}, 30_000);

test("with the right key, an endless upload to a tunnel that is offline (502, decided after the call was admitted) is drained within the same bounds and its connection closed", async () => {
  // Chunked: no declared length for the 413 to refuse; this relay's tunnel has no agent.
  const r = await endlessUpload(64 * 1024, 0, 20_000, { lines: `Authorization: Bearer ${CLIENT_KEY}\r\nTransfer-Encoding: chunked\r\n` });
  refusedClosing(r.head, 502);
  expect(r.closed).toBe(true);
  expect(r.sentAtAnswer).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
}, 30_000);

test("with the right key, an endless upload trickled in to an offline tunnel is answered 502 after at most the drain's time", async () => {
  const r = await endlessUpload(1024, 50, DRAIN_MAX_MS + 10_000, { lines: `Authorization: Bearer ${CLIENT_KEY}\r\nTransfer-Encoding: chunked\r\n` });
  expect(r.head).toStartWith("HTTP/1.1 502");
  expect(r.head).toContain("tunnel_offline");
  expect(r.head.toLowerCase()).toContain("connection: close");
  expect(r.closed).toBe(true);
}, 30_000);

test("a fast sender cut by the drain's bound reads its 401 before the connection closes, not a reset: five uploads in a row", async () => {
  for (let i = 0; i < 5; i++) {
    // Stops sending on the answer, as curl does: the relay's lingering read then ends early, on a clean close.
    const r = await endlessUpload(64 * 1024, 0, 20_000, { stopOnAnswer: true });
    refusedClosing(r.head, 401);
    expect(r.closed).toBe(true);
  }
}, 60_000);

requireTools(["curl"]).test("curl uploading 100 MiB from a pipe as fast as it can gets its 401 every time (exit 0), not a reset: ten uploads", async () => {
  const got: string[] = [];
  for (let i = 0; i < 10; i++) {
    // From a pipe (-T -): chunked, no Expect: 100-continue wait; on the old immediate close about one in three met a
    // reset mid-send (exit 55) and never read its 401.
    const cmd = `head -c ${100 * 1024 * 1024} /dev/zero | curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'authorization: Bearer not-the-key' -T - '${relay.url}/t/${TUNNEL_ID}/api/chat'`;
    const p = Bun.spawn(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    got.push(`${out} exit ${code}${err ? ` ${err.trim()}` : ""}`);
  }
  expect(got).toEqual(Array(10).fill("401 exit 0"));
}, 120_000);

test("a small refused upload is still read to its end and answered 401", async () => {
  const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: "Bearer not-the-key" }, body: new Uint8Array(512 * 1024) });
  expect(res.status).toBe(401);
  await res.arrayBuffer();
});

requireTools(["haproxy", "nginx"]).test("behind the docs' HAProxy and nginx, a refused upload gets its 401 or 413, not a 502, within the drain's bounds and past them", async () => {
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
      // 64 MiB: past the drain's bound; the relay's lingering close lets the proxy read the 401 rather than a reset.
      const big = await fetch(`${p.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: "Bearer not-the-key" }, body: new Uint8Array(64 * 1024 * 1024) });
      await big.arrayBuffer();
      got[name]!.push(big.status);
    }
    expect(got).toEqual({ haproxy: [401, 413, 401], nginx: [401, 413, 401] });
  } finally {
    await Promise.all(proxies.map((p) => p.stop("SIGKILL")));
  }
}, 30_000);

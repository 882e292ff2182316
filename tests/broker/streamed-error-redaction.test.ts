// An upstream's streamed error answer (chunked, SSE) that quotes the operator's auth_secret, through a real daemon: the
// caller gets it [redacted], also when the secret is split across the upstream's chunks; a success stream is untouched.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";

const SECRET = "sk-operator-5e1d7c0b";
let up: ScriptedUpstream;
let d: DaemonProc;

/** One chunk of a chunked body. */
const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

beforeAll(async () => {
  up = scriptedUpstream(() => {});
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[health]\ninterval = "60s"\n[[upstreams]]\nname = "lan"\nurl = "${up.url}"\nauth_secret = "lan-key"\n`,
    env: { CLOUDTOLOCALLLM_SECRET_LAN_KEY: SECRET },
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  up?.stop();
  if (d) removeHome(d.home);
});

test("a chunked error answer quoting the auth_secret, split across two chunks sent apart, reaches the caller [redacted]", async () => {
  up.script = (_path, s) => {
    s.write(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
    s.write(chunk(`{"error":"invalid key Bearer ${SECRET.slice(0, 8)}`));
    setTimeout(() => s.end(chunk(`${SECRET.slice(8)}"}`) + chunk("")), 100);
  };
  const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [], stream: false }) });
  expect(res.status).toBe(401);
  expect(await res.text()).toBe('{"error":"invalid key Bearer [redacted]"}');
});

test("an SSE error answer (sized, text/event-stream) quoting the auth_secret reaches the caller [redacted]", async () => {
  const events = `event: error\ndata: {"type":"error","error":{"type":"authentication_error","message":"key ${SECRET} refused"}}\n\n`;
  up.script = (_path, s) => void s.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/event-stream\r\ncontent-length: ${Buffer.byteLength(events)}\r\n\r\n${events}`);
  const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
  expect(res.status).toBe(403);
  const text = await res.text();
  expect(text).not.toContain(SECRET);
  expect(text).toBe(`event: error\ndata: {"type":"error","error":{"type":"authentication_error","message":"key [redacted] refused"}}\n\n`);
});

test("a chunked success stream is relayed byte for byte, even where it quotes the secret (only error answers are redacted)", async () => {
  const lines = [`{"model":"m","message":{"role":"assistant","content":"${SECRET}"},"done":false}\n`, `{"model":"m","done":true,"eval_count":1,"prompt_eval_count":1}\n`];
  up.script = (_path, s) => {
    s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n`);
    s.end(lines.map(chunk).join("") + chunk(""));
  };
  const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe(lines.join(""));
});

test("an error answer gzipped despite Accept-Encoding: identity (sized, or chunked), quoting the auth_secret, reaches the caller decoded and [redacted]", async () => {
  const body = JSON.stringify({ error: `invalid api key: Bearer ${SECRET}` });
  const gz = Bun.gzipSync(Buffer.from(body));
  const sized = (s: import("bun").Socket<{ buf: string }>) => {
    s.write(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.byteLength}\r\n\r\n`);
    s.end(gz);
  };
  const chunked = (s: import("bun").Socket<{ buf: string }>) => {
    s.write(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n`);
    const half = gz.byteLength >> 1;
    for (const part of [gz.subarray(0, half), gz.subarray(half)]) s.write(Buffer.concat([Buffer.from(`${part.byteLength.toString(16)}\r\n`), part, Buffer.from("\r\n")]));
    s.end("0\r\n\r\n");
  };
  for (const [framing, send] of [["sized", sized], ["chunked", chunked]] as const) {
    up.script = (_path, s) => send(s);
    // decompress: false, so the test reads what crossed the wire, as a client that inflates it would.
    const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [], stream: false }), decompress: false } as RequestInit);
    const raw = Buffer.from(await res.arrayBuffer());
    const coding = res.headers.get("content-encoding");
    const seen = coding === "gzip" ? Bun.gunzipSync(raw) : raw;
    expect({ framing, status: res.status, body: Buffer.from(seen).toString() }).toEqual({ framing, status: 401, body: '{"error":"invalid api key: Bearer [redacted]"}' });
    expect(coding).toBeNull();
  }
});

test("an encoded error answer the broker cannot decode (an unknown coding, or one that inflates past its limit) is not relayed: 502 in the caller's dialect", async () => {
  up.script = (_path, s) => {
    const body = `compressed ${SECRET}`;
    s.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-encoding: x-custom\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  };
  const res = await fetch(`${d.urls.broker}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m", messages: [] }) });
  expect(res.status).toBe(502);
  const text = await res.text();
  expect(text).not.toContain(SECRET);
  expect(JSON.parse(text).error.code).toBe("upstream_error");
  expect(text).toContain("x-custom");

  const bomb = Bun.gzipSync(Buffer.alloc(8 * 1024 * 1024, 32));
  up.script = (_path, s) => {
    s.write(`HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-encoding: gzip\r\ncontent-length: ${bomb.byteLength}\r\n\r\n`);
    s.end(bomb);
  };
  const inflating = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [], stream: false }) });
  expect(inflating.status).toBe(502);
  expect(await inflating.text()).toContain("does not decode within 1024 KiB");
});

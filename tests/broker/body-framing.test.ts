// Routing by model and failover hold whatever the body's framing: chunked (no Content-Length) as well as sized, and over the buffer limit.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import { BUFFER_LIMIT } from "../../src/broker/request-body.ts";

let a: FakeOllama;
let b: FakeOllama;
let tb: TestBroker | null = null;

beforeAll(async () => {
  a = await startFakeOllama({ models: ["a:1b", "shared:1b"], tokens: 2 });
  b = await startFakeOllama({ models: ["b:1b", "shared:1b"], tokens: 2 });
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});
afterEach(async () => {
  await tb?.stop();
  tb = null;
  a.requests.length = 0;
  b.requests.length = 0;
});

const chats = (f: FakeOllama) => f.requests.filter((r) => r.path === "/api/chat");

/** A POST whose body is a stream: fetch sends it with Transfer-Encoding: chunked and no Content-Length. */
function chunkedPost(url: string, parts: (string | Uint8Array)[]): Promise<Response> {
  const enc = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i >= parts.length) return c.close();
      const p = parts[i++]!;
      c.enqueue(typeof p === "string" ? enc.encode(p) : p);
    },
  });
  // @ts-expect-error duplex is needed for a streamed body
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" });
}

/** The raw request a client sends with Transfer-Encoding: chunked, over a plain socket (no fetch in between). */
function rawChunked(port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let out = "";
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    const half = Math.floor(body.length / 2);
    const chunk = (x: string) => `${Buffer.byteLength(x).toString(16)}\r\n${x}\r\n`;
    s.write(`POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
    s.write(chunk(body.slice(0, half)) + chunk(body.slice(half)) + "0\r\n\r\n");
  });
}

test("a chunked body is routed by its model: only the second upstream serves it, and only it is asked", async () => {
  tb = await startBroker(upstreamToml("A", a.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"));
  await tb.waitState("A", "up");
  await tb.waitState("B", "up");
  const r = await chunkedPost(`${tb.url}/api/chat`, ['{"model":', '"b:1b","messages":[],"stream":false}']);
  expect(r.status).toBe(200);
  expect(((await r.json()) as { model: string }).model).toBe("b:1b");
  expect(chats(a).length).toBe(0);
  expect(chats(b).length).toBe(1);
  // The upstream gets the whole body, sized.
  expect(chats(b)[0]!.bodySize).toBe('{"model":"b:1b","messages":[],"stream":false}'.length);
  expect(chats(b)[0]!.headers["content-length"]).toBe(String(chats(b)[0]!.bodySize));

  const raw = await rawChunked(Number(new URL(tb.url).port), '{"model":"b:1b","messages":[],"stream":false}');
  expect(raw).toStartWith("HTTP/1.1 200");
  expect(chats(b).length).toBe(2);
  expect(chats(a).length).toBe(0);
});

test("a chunked body fails over to the next upstream when the first refuses the connection", async () => {
  const dead = await startFakeOllama({ models: ["shared:1b"] });
  tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("dead", dead.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"));
  await tb.waitState("dead", "up");
  await dead.stop();
  const r = await chunkedPost(`${tb.url}/api/chat`, ['{"model":"shared:1b",', '"messages":[],"stream":false}']);
  expect(r.status).toBe(200);
  expect(chats(b).length).toBe(1);
  expect(tb.broker.upstream("dead")!.metrics.errors).toBe(1);
});

test("a chunked body over the buffer limit still streams through, routed by the model in its first bytes, in one attempt", async () => {
  tb = await startBroker(upstreamToml("A", a.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"));
  await tb.waitState("B", "up");
  const filler = new Uint8Array(1024 * 1024).fill(0x61);
  const parts: (string | Uint8Array)[] = ['{"model":"b:1b","stream":false,"messages":[{"role":"user","content":"'];
  for (let i = 0; i < BUFFER_LIMIT / filler.length + 1; i++) parts.push(filler);
  parts.push('"}]}');
  const total = parts.reduce((n, p) => n + (typeof p === "string" ? p.length : p.byteLength), 0);
  const r = await chunkedPost(`${tb.url}/api/chat`, parts);
  expect(r.status).toBe(200);
  expect(chats(a).length).toBe(0);
  expect(chats(b).length).toBe(1);
  expect(chats(b)[0]!.bodySize).toBe(total);
});

/** An HTTP/1.0 request whose body is meant to end when the client closes its side (no Content-Length, no chunking). */
function rawCloseDelimited(port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let out = "";
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("close", () => resolve(out));
    s.on("error", reject);
    s.write(`POST /api/chat HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n${body}`);
    s.end();
  });
}

test("an HTTP/1.0 body delimited by closing the connection is refused clearly, not sent empty to the first upstream", async () => {
  // HTTP/1.x requests have no close-delimited bodies (RFC 9112 6.3): Bun reads such a request as having none. Before,
  // the broker sent it on empty and the client got the first upstream's "model not found".
  tb = await startBroker(upstreamToml("A", a.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"));
  await tb.waitState("A", "up");
  await tb.waitState("B", "up");
  const raw = await rawCloseDelimited(Number(new URL(tb.url).port), '{"model":"b:1b","messages":[],"stream":false}');
  expect(raw).toMatch(/^HTTP\/1\.[01] 400/);
  const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as { error: string };
  expect(body.error).toContain("no Content-Length or Transfer-Encoding");
  expect(chats(a).length).toBe(0);
  expect(chats(b).length).toBe(0);
});

test("a chunked body over the buffer limit gets exactly one attempt: a dead first upstream is not followed by a replay", async () => {
  const dead = await startFakeOllama({ models: ["shared:1b"] });
  tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("dead", dead.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"));
  await tb.waitState("dead", "up");
  await tb.waitState("B", "up");
  await dead.stop();
  const filler = new Uint8Array(1024 * 1024).fill(0x61);
  const parts: (string | Uint8Array)[] = ['{"model":"shared:1b","stream":false,"messages":[{"role":"user","content":"'];
  for (let i = 0; i < BUFFER_LIMIT / filler.length + 1; i++) parts.push(filler);
  parts.push('"}]}');
  const r = await chunkedPost(`${tb.url}/api/chat`, parts);
  expect(r.status).toBe(502);
  const msg = ((await r.json()) as { error: string }).error;
  expect(msg).toContain('upstream "dead" could not be reached');
  expect(msg).not.toContain("after trying");
  expect(chats(b).length).toBe(0);
  expect(tb.broker.upstream("dead")!.metrics.errors).toBe(1);
});

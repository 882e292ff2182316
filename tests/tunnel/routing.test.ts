// Through a real relay and daemon, routing by model and failover hold as on the broker, and the declared body length crosses the tunnel.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, generatedBody, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let alpha: FakeOllama;
let beta: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
const chats = (f: FakeOllama) => f.requests.filter((r) => r.path === "/api/chat");

beforeAll(async () => {
  alpha = await startFakeOllama({ models: ["a:1b", "shared:1b"], tokens: 2 });
  beta = await startFakeOllama({ models: ["b:1b", "shared:1b"], tokens: 2 });
  relay = await startRelayProc(relayToml());
  // "fake" (alpha) is tried first; beta second. Health checks are slow on purpose: failover must not wait for them.
  const toml = daemonToml({ upstream: alpha.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }) +
    `\n[[upstreams]]\nname = "beta"\nurl = "${beta.url}"\npriority = 200\n\n[health]\ninterval = "60s"\n`;
  daemon = await startAgentDaemon(toml);
  // Both upstreams checked once, so the broker knows which models each serves.
  for (let i = 0; i < 100; i++) {
    const s = (await (await fetch(`${daemon.urls.api}/api/v1/upstreams`)).json()) as { upstreams?: { state: string }[] } | { state: string }[];
    const list = Array.isArray(s) ? s : (s.upstreams ?? []);
    if (list.length === 2 && list.every((u) => u.state === "up")) break;
    await Bun.sleep(50);
  }
}, 40_000);

afterAll(async () => {
  await daemon?.stop();
  await relay?.stop();
  await alpha?.stop();
  await beta?.stop();
  cleanup(relay?.dir, daemon?.home);
});

test("a model only the second upstream serves reaches it through the relay (the official ollama client), asserted on the upstreams", async () => {
  const ollama = new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: auth });
  const r = await ollama.chat({ model: "b:1b", messages: [{ role: "user", content: "hi" }], stream: false });
  expect(r.model).toBe("b:1b");
  expect(chats(alpha).length).toBe(0);
  expect(chats(beta).length).toBe(1);
});

test("a sized cloud request keeps its declared length across the tunnel; a chunked one is routed too", async () => {
  const body = JSON.stringify({ model: "b:1b", messages: [], stream: false });
  const sized = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body });
  expect(sized.status).toBe(200);
  const last = chats(beta).at(-1)!;
  expect(last.headers["content-length"]).toBe(String(Buffer.byteLength(body)));
  expect(last.bodySize).toBe(Buffer.byteLength(body));

  const enc = new TextEncoder();
  const parts = [body.slice(0, 10), body.slice(10)];
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const p = parts.shift();
      if (p === undefined) c.close();
      else c.enqueue(enc.encode(p));
    },
  });
  // @ts-expect-error duplex is needed for a streamed body
  const chunked = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: auth, body: stream, duplex: "half" });
  expect(chunked.status).toBe(200);
  expect(((await chunked.json()) as { model: string }).model).toBe("b:1b");
  expect(chats(alpha).length).toBe(0);
  expect(chats(beta).at(-1)!.bodySize).toBe(Buffer.byteLength(body));
});

test("a body over the buffer limit through the tunnel arrives with its declared length, not re-chunked", async () => {
  const size = 40 * 1024 * 1024;
  const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/embed`, {
    method: "POST",
    headers: { ...auth, "content-length": String(size) },
    body: generatedBody(size),
    // @ts-expect-error duplex is needed for a streamed body
    duplex: "half",
  });
  await r.body?.cancel();
  const blob = [...alpha.requests, ...beta.requests].filter((q) => q.path === "/api/embed").at(-1)!;
  expect(blob.headers["content-length"]).toBe(String(size));
  expect(blob.headers["transfer-encoding"]).toBeUndefined();
  expect(blob.bodySize).toBe(size);
});

test("after the first upstream dies, the next call through the tunnel fails over at once (no wait for a health check)", async () => {
  await alpha.stop();
  const before = chats(beta).length;
  const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "shared:1b", messages: [], stream: false }),
  });
  expect(r.status).toBe(200);
  expect(chats(beta).length).toBe(before + 1);
  const ollama = new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: auth });
  const again = await ollama.chat({ model: "shared:1b", messages: [{ role: "user", content: "hi" }], stream: false });
  expect(again.done).toBe(true);
  expect(chats(beta).length).toBe(before + 2);

  // A chunked body (no declared length) through the tunnel stream fails over too.
  const body = JSON.stringify({ model: "shared:1b", messages: [], stream: false });
  const parts = [body.slice(0, 12), body.slice(12)];
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const p = parts.shift();
      if (p === undefined) c.close();
      else c.enqueue(new TextEncoder().encode(p));
    },
  });
  // @ts-expect-error duplex is needed for a streamed body
  const chunked = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: auth, body: stream, duplex: "half" });
  expect(chunked.status).toBe(200);
  expect(chats(beta).length).toBe(before + 3);
  expect(chats(beta).at(-1)!.bodySize).toBe(Buffer.byteLength(body));
});

// Integration: the agent treats the relay as untrusted. A relay written against the wire sends a real daemon heads with
// credentials, cookies, proxy hints and a foreign Host; the upstream sees none of them, and the broker's own Host.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { decodeMessage, encode } from "../../src/protocol/codec.ts";
import { CAPABILITIES, PROTOCOL_VERSION, type Frame } from "../../src/protocol/messages.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { TUNNEL_ID, daemonToml, startAgentDaemon } from "./helpers.ts";

let fake: FakeOllama;
let daemon: DaemonProc;
let relay: ReturnType<typeof Bun.serve>;
let agent: ServerWebSocket<unknown> | null = null;
const answers = new Map<number, { frames: Frame[]; done: () => void }>();

beforeAll(async () => {
  fake = await startFakeOllama();
  relay = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      message(ws, msg) {
        const m = decodeMessage(msg as Uint8Array);
        if (m.type === "HELLO") {
          ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, tunnelId: TUNNEL_ID } }));
          agent = ws;
          return;
        }
        for (const f of m.type === "BATCH" ? m.frames : [m]) {
          if (f.type === "PING") ws.send(encode({ type: "PONG", stream: 0, opaque: f.opaque }));
          const a = answers.get(f.stream);
          if (!a) continue;
          a.frames.push(f);
          if (f.type === "END" || f.type === "RESET") a.done();
        }
      },
    },
  });
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${relay.port}/agent` }));
});
afterAll(async () => {
  await daemon?.stop();
  relay?.stop(true);
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
});

/** Sends one request over the agent's connection as the relay would, and collects the answer's frames. */
async function ask(id: number, head: { method: string; path: string; headers: [string, string][] }, body: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  const done = new Promise<void>((resolve) => answers.set(id, { frames, done: resolve }));
  agent!.send(encode({ type: "REQUEST_HEAD", stream: id, body: head }));
  if (body) agent!.send(encode({ type: "DATA", stream: id, data: new TextEncoder().encode(body) }));
  agent!.send(encode({ type: "END", stream: id }));
  await done;
  return frames;
}

test("credentials, cookies, origins, proxy hints and a foreign Host from the relay never reach the upstream", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  const before = fake.requests.length;
  const frames = await ask(
    1,
    {
      method: "POST",
      path: "/api/generate",
      headers: [
        ["authorization", "Bearer stolen-relay-secret"],
        ["cookie", "session=relay"],
        ["origin", "https://evil.example"],
        ["proxy-authorization", "Basic cmVsYXk="],
        ["forwarded", "for=6.6.6.6"],
        ["x-forwarded-for", "6.6.6.6"],
        ["x-forwarded-host", "evil.example"],
        ["x-real-ip", "6.6.6.6"],
        ["host", "evil.example"],
        ["content-type", "application/json"],
        ["x-kept", "yes"],
        ["content-length", String(body.length)],
      ],
    },
    body,
  );
  const head = frames.find((f) => f.type === "RESPONSE_HEAD");
  expect(head && head.type === "RESPONSE_HEAD" ? head.body.status : null).toBe(200);
  const seen = fake.requests.slice(before);
  expect(seen.map((r) => r.path)).toEqual(["/api/generate"]);
  const h = seen[0]!.headers;
  for (const name of ["authorization", "cookie", "origin", "proxy-authorization", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip"]) expect({ name, value: h[name] }).toEqual({ name, value: undefined });
  expect(h.host).not.toContain("evil");
  expect(h["x-kept"]).toBe("yes");
  expect((seen[0]!.json as { prompt: string }).prompt).toBe("hi");
});

test("a path outside [tunnel] allowed_paths is refused by the agent, whatever the relay sends", async () => {
  const before = fake.requests.length;
  const frames = await ask(3, { method: "POST", path: "/api/pull", headers: [["content-type", "application/json"]] }, "");
  const head = frames.find((f) => f.type === "RESPONSE_HEAD");
  expect(head && head.type === "RESPONSE_HEAD" ? head.body.status : null).toBe(403);
  expect(fake.requests.length).toBe(before);
});

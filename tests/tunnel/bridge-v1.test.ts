// protocol = "bridge-v1": the real daemon against a stand-in for the 1.x cloud bridge (JSON text frames, buffered bodies).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { cleanup, daemonToml, AGENT_TOKEN } from "./helpers.ts";
import { startDaemon } from "../helpers/daemon.ts";

interface Seen {
  queryToken: string | null;
  authHeader: string | null;
}
let fake: FakeOllama;
let bridge: ReturnType<typeof Bun.serve<Seen>>;
const sockets: ServerWebSocket<Seen>[] = [];
const responses = new Map<string, (d: { statusCode: number; headers: Record<string, string>; body: string }) => void>();
let pongs = 0;

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: 4 });
  bridge = Bun.serve<Seen>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const u = new URL(req.url);
      if (u.pathname !== "/ws/bridge") return new Response("no", { status: 404 });
      if (srv.upgrade(req, { data: { queryToken: u.searchParams.get("token"), authHeader: req.headers.get("authorization") } })) return;
      return new Response("upgrade", { status: 400 });
    },
    websocket: {
      open(ws) {
        sockets.push(ws);
        const ok = ws.data.queryToken === AGENT_TOKEN;
        ws.send(JSON.stringify({ type: "auth", id: "a", data: ok ? { success: true, bridgeId: "bridge-1" } : { success: false }, timestamp: new Date().toISOString() }));
        if (!ok) ws.close(1008, "unauthorized");
      },
      message(_ws, m) {
        const msg = JSON.parse(String(m));
        if (msg.type === "pong") pongs++;
        if (msg.type === "response") responses.get(msg.id)?.(msg.data);
      },
    },
  });
});

afterAll(async () => {
  bridge?.stop(true);
  await fake?.stop();
});

function ask(ws: ServerWebSocket<Seen>, id: string, data: Record<string, unknown>) {
  const p = new Promise<{ statusCode: number; headers: Record<string, string>; body: string }>((r) => responses.set(id, r));
  ws.send(JSON.stringify({ type: "request", id, data, timestamp: new Date().toISOString() }));
  return p;
}

test("the daemon authenticates, answers pings and serves buffered requests through the broker, allowlist enforced", async () => {
  const d = await startDaemon({
    config: daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${bridge.port}/ws/bridge`, tunnel: 'protocol = "bridge-v1"' }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
  });
  try {
    await d.waitFor(/tunnel: connected to the relay.*protocol=bridge-v1/);
    const ws = sockets.at(-1)!;
    // Compatibility: the token in the query as the 1.x server expects, and the header as well.
    expect(ws.data.queryToken).toBe(AGENT_TOKEN);
    expect(ws.data.authHeader).toBe(`Bearer ${AGENT_TOKEN}`);
    ws.send(JSON.stringify({ type: "ping", id: "p1", data: {}, timestamp: new Date().toISOString() }));
    const chat = await ask(ws, "r1", { method: "POST", path: "/api/chat", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }) });
    expect(chat.statusCode).toBe(200);
    const lines = chat.body.trim().split("\n");
    expect(lines.length).toBe(5); // streamed upstream, delivered whole: bridge-v1 cannot stream
    expect(JSON.parse(lines.at(-1)!).done).toBe(true);
    const pull = await ask(ws, "r2", { method: "POST", path: "/api/pull", headers: {}, body: "{}" });
    expect(pull.statusCode).toBe(403);
    expect(pongs).toBeGreaterThanOrEqual(1);
    // The token in the URL never reaches the logs.
    expect(d.stderr()).not.toContain(AGENT_TOKEN);
  } finally {
    await d.stop();
    cleanup(d.home);
  }
}, 30_000);

test("a refused bridge token stops retrying (auth_failed)", async () => {
  const before = sockets.length;
  const d = await startDaemon({
    config: daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${bridge.port}/ws/bridge`, tunnel: 'protocol = "bridge-v1"', backoff: ["50ms", "100ms"] }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: "wrong-bridge-token-123" },
  });
  try {
    await d.waitFor(/refused our credentials/);
    await Bun.sleep(800);
    expect(sockets.length - before).toBe(1);
  } finally {
    await d.stop();
    cleanup(d.home);
  }
}, 30_000);

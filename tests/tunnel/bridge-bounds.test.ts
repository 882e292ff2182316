// protocol = "bridge-v1" cannot stream: an answer that never ends (a model generating forever) is cut at the protocol's limit and its generation cancelled, not buffered without bound.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanup, daemonToml, AGENT_TOKEN } from "./helpers.ts";
import { startFakeBridge, type FakeBridge } from "./fake-bridge.ts";
import { startDaemon, type DaemonProc } from "../helpers/daemon.ts";

type Answer = { statusCode: number; headers: Record<string, string>; body: string };
let upstream: ReturnType<typeof Bun.serve>;
let bridge: FakeBridge;
let d: DaemonProc;
const answers = new Map<string, (a: Answer) => void>();
/** Bytes the endless answer had sent, and whether its reader went away. */
const endless = { sent: 0, cancelled: false };

beforeAll(async () => {
  const chunk = new TextEncoder().encode(`${JSON.stringify({ model: "llama3.2:1b", message: { role: "assistant", content: "x".repeat(64 * 1024) }, done: false })}\n`);
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/tags") return Response.json({ models: [{ name: "llama3.2:1b", model: "llama3.2:1b" }] });
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path !== "/api/chat") return new Response("not found", { status: 404 });
      // A generation that does not end (as far as a 32 MiB limit can tell: it stops at 256 MiB, so that an agent
      // without the limit costs this machine that much, not all its memory), as fast as the reader takes it.
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (endless.sent > 256 * 1024 * 1024) return c.close();
            endless.sent += chunk.byteLength;
            c.enqueue(chunk);
          },
          cancel() {
            endless.cancelled = true;
          },
        }),
        { headers: { "content-type": "application/x-ndjson" } },
      );
    },
  });
  bridge = startFakeBridge({
    onMessage(msg) {
      if (msg.type === "response") answers.get(String(msg.id))?.(msg.data as Answer);
    },
  });
  d = await startDaemon({
    config: daemonToml({ upstream: `http://127.0.0.1:${upstream.port}`, relayUrl: `ws://127.0.0.1:${bridge.port}/ws/bridge`, tunnel: 'protocol = "bridge-v1"' }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
  });
  await d.waitFor(/tunnel: connected to the relay.*protocol=bridge-v1/);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  if (d) cleanup(d.home);
  bridge?.stop();
  upstream?.stop(true);
});

function ask(id: string, data: Record<string, unknown>): Promise<Answer> {
  const p = new Promise<Answer>((r) => answers.set(id, r));
  bridge.socket().send(JSON.stringify({ type: "request", id, data, timestamp: new Date().toISOString() }));
  return p;
}

test("an answer that never ends is refused at 32 MiB with a 500 in the caller's dialect, its generation is cancelled, and the agent keeps serving", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "never stop" }] });
  const a = await Promise.race([ask("endless", { method: "POST", path: "/api/chat", headers: { "content-type": "application/json" }, body }), Bun.sleep(30_000).then(() => null)]);
  expect(a).not.toBeNull(); // before: buffered until memory ran out, never answered
  expect(a!.statusCode).toBe(500);
  expect(JSON.parse(a!.body).error).toContain("over the 33554432-byte limit of bridge-v1");
  const until = Date.now() + 5_000;
  while (!endless.cancelled && Date.now() < until) await Bun.sleep(50);
  expect(endless.cancelled).toBe(true);
  // Read no further than the limit (plus what was in flight in the pipes), not on and on.
  expect(endless.sent).toBeLessThan(48 * 1024 * 1024);
  const tags = await ask("tags", { method: "GET", path: "/api/tags", headers: {} });
  expect(tags.statusCode).toBe(200);
  expect(d.proc.exitCode).toBeNull();
}, 60_000);

// protocol = "bridge-v1" cannot stream: an answer that never ends (a model generating forever) is cut at the protocol's limit and its generation cancelled, not buffered without bound.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanup, daemonToml, AGENT_TOKEN } from "./helpers.ts";
import { startFakeBridge, type FakeBridge } from "./fake-bridge.ts";
import { startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

type Answer = { statusCode: number; headers: Record<string, string>; body: string };
let upstream: ReturnType<typeof Bun.serve>;
let bridge: FakeBridge;
let d: DaemonProc;
const answers = new Map<string, (a: Answer) => void>();
/** Bytes the endless answer had sent, and whether its reader went away. */
const endless = { sent: 0, cancelled: false };
/** Generations that send one line and then wait (a long one): how many started, and how many were cancelled. */
const held = { started: 0, cancelled: 0 };

beforeAll(async () => {
  const chunk = new TextEncoder().encode(`${JSON.stringify({ model: "llama3.2:1b", message: { role: "assistant", content: "x".repeat(64 * 1024) }, done: false })}\n`);
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/tags") return Response.json({ models: [{ name: "llama3.2:1b", model: "llama3.2:1b" }] });
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path === "/api/generate") {
        held.started++;
        return new Response(
          new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(new TextEncoder().encode(`${JSON.stringify({ model: "llama3.2:1b", response: "x", done: false })}\n`));
            },
            cancel() {
              held.cancelled++;
            },
          }),
          { headers: { "content-type": "application/x-ndjson" } },
        );
      }
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

test("the bridge going away mid-request cancels that request's generation (the 1.x server already failed it with 503): reconnects never pile up generations beyond max_streams", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "a long one" });
  const first = bridge.socket();
  for (const id of ["long-1", "long-2"]) first.send(JSON.stringify({ type: "request", id, data: { method: "POST", path: "/api/generate", headers: { "content-type": "application/json" }, body }, timestamp: new Date().toISOString() }));
  await until(() => held.started >= 2, 10_000, "both generations to reach the upstream");
  first.close(1001, "going away");
  // Before: the generations ran on (to their end, or the 32 MiB limit) for an answer nobody could take any more.
  await until(() => held.cancelled >= 2, 10_000, "the generations of the closed connection to be cancelled");
  await until(() => bridge.socket() !== first, 15_000, "the agent to reconnect");
  const tags = await ask("tags-after-cancel", { method: "GET", path: "/api/tags", headers: {} });
  expect(tags.statusCode).toBe(200);
  expect(d.proc.exitCode).toBeNull();
}, 40_000);

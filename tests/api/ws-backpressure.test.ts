// A /ws client that stops reading is disconnected once its queue passes the limit, instead of growing the daemon's memory.
import { afterEach, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { WsHub } from "../../src/api/modules/ws/hub.ts";
import { setLogSink } from "../../src/core/log.ts";
import { AUTH, TOKEN, testEnv, type TestEnv } from "./stubs.ts";

let env: TestEnv | null = null;
let app: ApiApp | null = null;
let sock: Socket | null = null;
afterEach(async () => {
  setLogSink((line) => process.stderr.write(line + "\n"));
  sock?.destroy();
  await app?.stop(true);
  env?.cleanup();
});

test("a client that never reads gets no ticks and is closed past 1 MiB queued; a reading client is unaffected", async () => {
  const logs: string[] = [];
  setLogSink((l) => logs.push(l));
  env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n`);
  const hub = new WsHub(env.daemon.ctx);
  app = createApp(env.daemon.ctx, { token: () => TOKEN, hub, docs: false }).listen({ hostname: "127.0.0.1", port: 0 });
  const port = app.server!.port!;

  // The stalled client: a raw socket that completes the handshake, then stops reading.
  sock = connect(port, "127.0.0.1");
  await new Promise((r) => sock!.once("connect", r));
  sock.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: ${AUTH.authorization}\r\n\r\n`,
  );
  const head = await new Promise<string>((r) => sock!.once("data", (b) => r(b.toString("latin1"))));
  expect(head).toStartWith("HTTP/1.1 101");
  sock.pause();

  // A healthy client alongside.
  const good = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: AUTH } as any);
  let goodCount = 0;
  let goodClosed = false;
  good.onmessage = () => goodCount++;
  good.onclose = () => (goodClosed = true);
  await new Promise((r) => (good.onopen = r));
  expect(hub.size).toBe(2);

  // 64 KiB events until the stalled client is dropped (kernel buffers absorb the first few MiB).
  const blob = "x".repeat(64 * 1024);
  for (let i = 0; i < 400 && hub.size === 2; i++) {
    env.daemon.events.emit("config.rejected", { path: "/x", message: blob });
    hub.tick();
    await Bun.sleep(2);
  }
  expect(hub.stats.slowClosed).toBe(1);
  expect(hub.stats.ticksDropped).toBeGreaterThan(0);
  expect(hub.size).toBe(1);
  expect(logs.join("\n")).toContain("closing a /ws client that does not keep up");
  await Bun.sleep(200);
  expect(goodClosed).toBe(false);
  expect(goodCount).toBeGreaterThan(10);
  good.close();
}, 60_000);

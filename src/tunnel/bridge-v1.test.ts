// Unit tests for the bridge-v1 connection: a bridge that goes silent (a half-open connection, which 1.x never noticed) is declared dead, and pings keep a live one up.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { ManualClock } from "../core/clock.ts";
import { connectBridge } from "./bridge-v1.ts";

let server: ReturnType<typeof Bun.serve>;
let sock: ServerWebSocket<unknown> | null = null;
const pongs: string[] = [];
beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req, { data: {} }) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      open(s) {
        sock = s;
        s.send(JSON.stringify({ type: "auth", id: "a", data: { success: true, bridgeId: "b-7" } }));
      },
      message(_s, m) {
        const msg = JSON.parse(String(m));
        if (msg.type === "pong") pongs.push(String(msg.id));
      },
    },
  });
});
afterAll(() => server.stop(true));

const open = (clock: ManualClock) =>
  connectBridge({ url: `ws://127.0.0.1:${server.port}/ws/bridge`, token: "t", agent: "test", toleranceMs: 0, clock, handle: async () => new Response("{}") });

test("a bridge that pings is kept; one silent for 75 s (2.5 of its 30 s pings) is declared dead with heartbeat_timeout", async () => {
  const clock = new ManualClock();
  const conn = await open(clock);
  expect(conn.tunnelId).toBe("b-7");
  let ended: { code: string; reason: string } | null = null;
  void conn.closed.then((i) => (ended = i));
  // Pings every 30 s for two minutes: alive.
  for (let i = 0; i < 4; i++) {
    sock!.send(JSON.stringify({ type: "ping", id: `p${i}`, data: {} }));
    const until = Date.now() + 2_000;
    while (pongs.length <= i && Date.now() < until) await Bun.sleep(5);
    clock.advance(30_000);
  }
  expect(pongs).toEqual(["p0", "p1", "p2", "p3"]);
  expect(ended).toBeNull();
  // Then silence (a half-open connection: no close ever arrives).
  clock.advance(80_000);
  await Bun.sleep(0);
  expect(ended).not.toBeNull();
  expect(ended!.code).toBe("heartbeat_timeout");
  expect(ended!.reason).toBe("no message from the bridge for 75000 ms");
});

test("a bridge gone silent is declared dead within its tolerance though the wall clock was set back an hour meanwhile (NTP, a user)", async () => {
  const clock = new ManualClock();
  const conn = await open(clock);
  let ended: { code: string; reason: string } | null = null;
  void conn.closed.then((i) => (ended = i));
  clock.advance(10_000);
  clock.jumpWall(-3_600_000);
  clock.advance(70_000);
  await Bun.sleep(0);
  expect(ended).not.toBeNull();
  expect(ended!.code).toBe("heartbeat_timeout");
});

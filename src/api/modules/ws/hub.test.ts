// Unit tests for the /ws hub: snapshot first, ordered events, ticks only while someone listens, slow clients cut off.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon } from "../../../daemon/daemon.ts";
import { defaultConfig } from "../../../config/load.ts";
import { DEFAULT_LIMITS, WsHub, type WsClient } from "./hub.ts";
import { WS_MESSAGES } from "./messages.ts";

class FakeClient implements WsClient {
  sent: any[] = [];
  buffered = 0;
  sendResult: number | null = null;
  closed: { code?: number; reason?: string } | null = null;
  send(text: string) {
    this.sent.push(JSON.parse(text));
    return this.sendResult ?? text.length;
  }
  getBufferedAmount() {
    return this.buffered;
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
  }
}

const hubs: WsHub[] = [];
afterEach(() => hubs.splice(0).forEach((h) => h.closeAll()));

function setup(limits = { tickSkipBytes: 100, maxBufferedBytes: 10_000, tickMs: 60_000 }) {
  const d = new Daemon({ file: "/nonexistent/tunnel.toml", config: defaultConfig(), factories: [] });
  const hub = new WsHub(d.ctx, limits);
  hubs.push(hub);
  return { d, hub };
}

describe("WsHub", () => {
  test("snapshot first, then events in order with seq; unsubscribes when the last client leaves", () => {
    const { d, hub } = setup();
    const c = new FakeClient();
    expect(d.events.listenerCount("*")).toBe(0);
    hub.add(c);
    expect(d.events.listenerCount("*")).toBe(1);
    d.events.emit("upstream.state", { name: "local", from: "up", to: "down" });
    d.events.emit("config.rejected", { path: "/x", message: "bad", line: 3, column: 7 });
    expect(c.sent.map((m) => m.type)).toEqual(["snapshot", "upstream.state", "config.rejected"]);
    expect(c.sent[0].data.daemon.pid).toBe(process.pid);
    expect(c.sent[2]).toMatchObject({ seq: 2, data: { line: 3, column: 7 } });
    hub.remove(c);
    expect(d.events.listenerCount("*")).toBe(0);
    expect(hub.size).toBe(0);
  });
  test("metrics ticks run only while someone listens", async () => {
    const { hub } = setup({ tickSkipBytes: 100, maxBufferedBytes: 10_000, tickMs: 20 });
    const c = new FakeClient();
    hub.add(c);
    await Bun.sleep(90);
    const ticks = c.sent.filter((m) => m.type === "metrics.tick");
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks[0].data.upstreams[0].name).toBe("local");
    expect(ticks[0].data.tunnel.state).toBe("disabled");
    hub.remove(c);
    const before = c.sent.length;
    await Bun.sleep(60);
    expect(c.sent.length).toBe(before);
  });
  test("a slow client gets no ticks, and is disconnected past the limit instead of queueing without bound", () => {
    const { d, hub } = setup();
    const slow = new FakeClient();
    const fast = new FakeClient();
    hub.add(slow);
    hub.add(fast);
    slow.buffered = 500; // above tickSkipBytes
    hub.tick();
    expect(slow.sent.filter((m) => m.type === "metrics.tick")).toHaveLength(0);
    expect(fast.sent.filter((m) => m.type === "metrics.tick")).toHaveLength(1);
    expect(hub.stats.ticksDropped).toBe(1);
    d.events.emit("shutdown", { reason: "test" }); // events are not dropped while under the hard limit
    expect(slow.sent.at(-1).type).toBe("shutdown");
    slow.buffered = 20_000;
    d.events.emit("upstream.state", { name: "local", from: "up", to: "down" });
    expect(slow.closed?.code).toBe(1013);
    expect(hub.size).toBe(1);
    expect(fast.closed).toBeNull();
    expect(fast.sent.at(-1).type).toBe("upstream.state");
  });
  test("the limits are docs/api.md's: no ticks past 64 KiB waiting, disconnected past 1 MiB, a tick once a second", () => {
    expect(DEFAULT_LIMITS).toEqual({ tickSkipBytes: 64 * 1024, maxBufferedBytes: 1024 * 1024, tickMs: 1000 });
  });
  test("a message the socket dropped (send() === 0) closes the client", () => {
    const { d, hub } = setup();
    const c = new FakeClient();
    hub.add(c);
    c.sendResult = 0;
    d.events.emit("shutdown", { reason: "x" });
    expect(c.closed?.code).toBe(1013);
    expect(hub.size).toBe(0);
  });
  test("docs/api.md documents every /ws message type", () => {
    const doc = readFileSync(join(import.meta.dir, "../../../../docs/api.md"), "utf8");
    for (const type of Object.keys(WS_MESSAGES)) expect(doc).toContain(`| \`${type}\` |`);
  });
});

// The daemon's own tray follows the events it shows by name: never a "*" listener, which would make the broker build a record per request.
import { expect, test } from "bun:test";
import { EventBus } from "../src/core/events.ts";
import type { DaemonContext } from "../src/core/component.ts";
import { defaultConfig } from "../src/config/load.ts";
import { LocalSource } from "./local-source.ts";

test("snapshot at start, events applied as they are emitted, request.completed unheard, all unsubscribed at stop", () => {
  const events = new EventBus();
  const ctx = { config: { current: defaultConfig, path: () => "/x.toml", lastReload: () => null }, events, services: {}, startedAt: new Date() } as unknown as DaemonContext;
  const seen: string[] = [];
  const src = new LocalSource(ctx, (s) => seen.push(s.status?.tunnel.state ?? "none"), 60_000);
  src.start();
  expect(src.state.linking).toBe(false);
  expect(src.state.revision).toBe(1);
  expect(events.listenerCount("*")).toBe(0);
  expect(events.heard("request.completed")).toBe(false);
  events.emit("tunnel.state", { ...src.state.status!.tunnel, state: "connecting" });
  expect(src.state.status!.tunnel.state).toBe("connecting");
  events.emit("dashboard.access", { code: "AAAA-BBBB", state: "requested", expiresAt: new Date(Date.now() + 60_000).toISOString() });
  expect(src.state.access.map((a) => a.code)).toEqual(["AAAA-BBBB"]);
  expect(seen).toEqual(["disabled", "connecting", "connecting"]);
  src.stop();
  expect(events.heard("tunnel.state")).toBe(false);
});

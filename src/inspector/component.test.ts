// Unit test for the inspector component: it listens for request.completed only while its ring can keep something.
import { changes } from "../config/changes.ts";
import { expect, test } from "bun:test";
import { EventBus } from "../core/events.ts";
import { defaultConfig } from "../config/load.ts";
import type { DaemonContext } from "../core/component.ts";
import { createInspectorComponent } from "./component.ts";

test("with inspector_size 0 nobody listens, so the broker can skip building records; a reload to >0 subscribes once", async () => {
  const events = new EventBus();
  const zero = defaultConfig();
  zero.dashboard.inspector_size = 0;
  const five = structuredClone(zero);
  five.dashboard.inspector_size = 5;
  const ctx = { config: { current: () => zero }, events, services: {} } as unknown as DaemonContext;
  const c = createInspectorComponent(ctx);
  await c.start();
  expect(events.listenerCount("request.completed")).toBe(0);
  await c.apply!(five, zero, changes(zero, five));
  expect(events.listenerCount("request.completed")).toBe(1);
  await c.apply!(structuredClone(five), zero, changes(zero, five));
  expect(events.listenerCount("request.completed")).toBe(1);
  await c.apply!(zero, five, changes(five, zero));
  expect(events.listenerCount("request.completed")).toBe(0);
  await c.apply!(five, zero, changes(zero, five));
  await c.stop();
  expect(events.listenerCount("request.completed")).toBe(0);
});

// The agent's registry of held answers across a reload that changes [tunnel] resume_window: kept, its window updated.
import { expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import type { DaemonContext } from "../core/component.ts";
import type { Stream } from "../protocol/stream.ts";
import { TunnelService } from "./component.ts";

function tunnelConfig(window: string) {
  const r = parseConfig(`[tunnel]\nrelay_url = "wss://relay.example/agent"\nresume_window = "${window}"\n`, "test.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

test("a reload that changes resume_window keeps the answers held (still offered on the next session), with the new window", () => {
  const first = tunnelConfig("30s");
  const svc = new TunnelService({ config: { current: () => first }, services: {} } as unknown as DaemonContext);
  const resumes = svc["resumesFor"](first.tunnel)!;
  // A held answer registers once its head (with the token) is sent; its END then waits for the relay's acknowledgement.
  const stream = { onFailure: () => {}, respond: () => {}, end: () => {}, acknowledged: () => new Promise(() => {}) };
  const held = resumes.hold(stream as unknown as Stream);
  void held.answer({ status: 200, headers: [] }, null);
  expect(held.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
  const again = svc["resumesFor"](tunnelConfig("90s").tunnel)!;
  expect(again).toBe(resumes);
  expect(again.tokens()).toEqual([held.token!]);
  expect(again.limits.windowMs).toBe(90_000);
  // Resume turned off: nothing is offered on new connections (the held answers still end by their window).
  expect(svc["resumesFor"](tunnelConfig("0s").tunnel)).toBeUndefined();
});

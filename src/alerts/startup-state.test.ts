// The alerts component reads the sign-in and tunnel state when it starts: auth and the tunnel start first, so their
// login_required / auth_failed may have been reported before alerts listened.
import { expect, test } from "bun:test";
import type { Alert, TunnelStatus } from "../core/contracts.ts";
import { EventBus } from "../core/events.ts";
import { defaultConfig } from "../config/load.ts";
import type { DaemonContext } from "../core/component.ts";
import { alertsComponentFactory } from "./component.ts";

const tunnel = (state: TunnelStatus["state"], lastError: string | null = null): TunnelStatus => ({
  state,
  protocol: "v2",
  relay: "wss://relay.example/agent",
  since: null,
  nextRetry: null,
  attempt: 0,
  lastError,
  tunnelId: null,
  activeStreams: 0,
});

async function startAlerts(services: Record<string, unknown>) {
  const config = defaultConfig();
  config.tunnel.enabled = true;
  config.alerts.notifications = false;
  const events = new EventBus();
  const raised: Alert[] = [];
  events.on("alert.raised", (e) => void raised.push(e.data));
  const ctx = { config: { current: () => config }, events, services } as unknown as DaemonContext;
  const c = alertsComponentFactory({ notifier: { warning: () => null, send: async () => true } })(ctx);
  await c.start();
  return { c, raised, events, active: () => ctx.services.alerts!.active() };
}

test("a login_required reported by auth before alerts started is raised at start, and clears on sign-in", async () => {
  const auth = { state: "login_required", reason: "the session could not be refreshed (invalid_grant)" };
  const a = await startAlerts({ auth: { status: () => ({ ...auth, subject: null, name: null, expiresAt: null, pending: null }) } });
  try {
    expect(a.active().map((x) => x.id)).toEqual(["login_required"]);
    expect(a.raised[0]!.message).toContain("invalid_grant");
    a.events.emit("auth.state", { state: "signed_in", subject: "me" });
    expect(a.active()).toEqual([]);
  } finally {
    await a.c.stop();
  }
});

test("a tunnel already in auth_failed when alerts start raises login_required; a connected one raises nothing", async () => {
  const a = await startAlerts({ tunnel: { status: () => tunnel("auth_failed", "the relay refused the agent token (401)") }, auth: { status: () => ({ state: "signed_out", reason: null }) } });
  try {
    expect(a.active().map((x) => x.id)).toEqual(["login_required"]);
    expect(a.raised[0]!.message).toContain("401");
  } finally {
    await a.c.stop();
  }
  const b = await startAlerts({ tunnel: { status: () => tunnel("connected") }, auth: { status: () => ({ state: "signed_in", reason: null }) } });
  try {
    expect(b.active()).toEqual([]);
  } finally {
    await b.c.stop();
  }
});

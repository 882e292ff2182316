// The pure view model: state per situation, tooltip lines, menu entries and their enabled/visible flags.
import { describe, expect, test } from "bun:test";
import { buildView, trayState, type MenuItem, type TrayInput } from "./state.ts";
import { daemonStatus, upstream } from "../tests/desktop/fake-daemon.ts";
import type { DaemonStatus } from "../src/core/contracts.ts";

function input(status: DaemonStatus | null, over: Partial<TrayInput> = {}): TrayInput {
  return { status, linking: false, lastAlert: null, compatWarning: null, notifications: true, actionError: null, trayVersion: "3.0.0", apiBase: "http://127.0.0.1:8765", ...over };
}
function flat(items: MenuItem[]): MenuItem[] {
  return items.flatMap((i) => [i, ...flat(i.children ?? [])]);
}
const item = (v: ReturnType<typeof buildView>, key: string) => flat(v.menu).find((i) => i.key === key)!;
const tunnel = (state: DaemonStatus["tunnel"]["state"]) => ({ ...daemonStatus().tunnel, state });

describe("tray state", () => {
  test("the five states", () => {
    expect(trayState({ status: null, linking: true })).toBe("connecting");
    expect(trayState({ status: null, linking: false })).toBe("offline");
    expect(trayState({ status: daemonStatus(), linking: false })).toBe("good");
    expect(trayState({ status: daemonStatus({ upstreams: [upstream("a"), upstream("b", { state: "down", quality: "down" })] }), linking: false })).toBe("degraded");
    expect(trayState({ status: daemonStatus({ upstreams: [upstream("a", { quality: "poor" })] }), linking: false })).toBe("degraded");
    expect(trayState({ status: daemonStatus({ tunnel: tunnel("reconnecting") }), linking: false })).toBe("connecting");
    // before the first check answers the daemon reports the upstream and the overall verdict critical: still "connecting"
    expect(trayState({ status: daemonStatus({ upstreams: [upstream("a", { state: "unknown", quality: "critical" })], quality: "critical" }), linking: false })).toBe("connecting");
    expect(trayState({ status: daemonStatus({ upstreams: [upstream("a", { state: "down", quality: "down" })] }), linking: false })).toBe("critical");
    expect(trayState({ status: daemonStatus({ tunnel: tunnel("auth_failed") }), linking: false })).toBe("critical");
    // sign-in required with the tunnel off and no alert (alerts disabled): still critical, as the README's table says
    const auth = { ...daemonStatus().auth, state: "login_required" as const, reason: "the session could not be refreshed (invalid_grant)" };
    expect(trayState({ status: daemonStatus({ tunnel: tunnel("disabled"), auth, alerts: [] }), linking: false })).toBe("critical");
    // nothing serves: one never answered and one down, no upstream at all, or the broker not running (overall "down")
    const unknown = upstream("a", { state: "unknown", quality: "critical", lastCheck: null });
    expect(trayState({ status: daemonStatus({ upstreams: [unknown, upstream("b", { state: "down", quality: "down" })], quality: "critical" }), linking: false })).toBe("critical");
    expect(trayState({ status: daemonStatus({ upstreams: [], quality: "critical" }), linking: false })).toBe("critical");
    expect(trayState({ status: daemonStatus({ upstreams: [{ ...unknown, quality: "down" }], quality: "down" }), linking: false })).toBe("critical");
    // one serving upstream is enough: the overall verdict is its quality
    expect(trayState({ status: daemonStatus({ upstreams: [unknown, upstream("b")], quality: "excellent" }), linking: false })).toBe("good");
    // a disabled upstream that is down does not count
    expect(trayState({ status: daemonStatus({ upstreams: [upstream("a"), upstream("b", { enabled: false, state: "down" })] }), linking: false })).toBe("good");
  });

  test("tooltip and menu: the cloud URL with a Copy item; a refused token's fix; the next retry relative", () => {
    const up = buildView(input(daemonStatus({ tunnel: { ...tunnel("connected"), cloudUrl: "https://relay.example.com/t/alice/" } })));
    expect(up.tooltip.body).toContain("Cloud URL: https://relay.example.com/t/alice/");
    expect(item(up, "tunnel.copy-url")).toMatchObject({ label: "Copy cloud URL", action: "tunnel.copy-url", visible: true });
    expect(item(buildView(input(daemonStatus())), "tunnel.copy-url").visible).toBe(false);
    const refused = buildView(input(daemonStatus({ tunnel: { ...tunnel("auth_failed"), lastError: "the relay refused the agent token (401)", fix: "store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`" } })));
    expect(refused.tooltip.body).toContain("Fix: store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`");
    const retry = new Date(Date.now() + 4_400).toISOString();
    const waiting = buildView(input(daemonStatus({ tunnel: { ...tunnel("reconnecting"), nextRetry: retry, lastError: "x" } })));
    expect(waiting.tooltip.body).toMatch(/\(retry in [45] s\)/);
  });

  test("tooltip: each upstream with state, version, model count and p95; tunnel and relay; last alert", () => {
    const s = daemonStatus({ upstreams: [upstream("local"), upstream("gpu", { version: null, models: ["x"], metrics: { ...upstream("gpu").metrics, latencyMs: { p50: 1, p90: 1, p95: 2500, p99: 1 } } })] });
    const last = { id: "quality:gpu", rule: "quality", severity: "warning" as const, subject: "gpu", message: "Upstream gpu quality recovered (good)", raisedAt: "2026-01-01T00:00:00Z", clearedAt: "2026-01-01T00:01:00Z" };
    const v = buildView(input(s, { lastAlert: last }));
    expect(v.tooltip.body.split("\n")).toEqual([
      "local: up · excellent · v0.6.2 · 2 models · p95 120 ms",
      "gpu: up · excellent · 1 model · p95 2.5 s",
      "Tunnel: connected · relay.example.com",
      "Last alert (cleared): Upstream gpu quality recovered (good)",
    ]);
    expect(v.status).toBe("Active");
    expect(v.iconName).toBe("cloudtolocalllm-tunnel-good");
  });

  test("tooltip: an upstream that is not checked yet, down or disabled shows no quality, never \"excellent\"", () => {
    const s = daemonStatus({
      // "unknown · excellent" is what daemons before 3.x reported before the first check: the tray does not repeat it
      upstreams: [
        upstream("new", { state: "unknown", quality: "excellent", version: null, models: [], lastCheck: null }),
        upstream("hung", { state: "unknown", quality: "critical", version: null, models: [], lastCheck: null }),
        upstream("gone", { state: "down", quality: "down", version: null, models: [] }),
        upstream("off", { enabled: false, state: "unknown", quality: "excellent", version: null, models: [] }),
      ],
      quality: "critical",
    });
    const lines = buildView(input(s)).tooltip.body.split("\n");
    expect(lines.slice(0, 5)).toEqual(["gone is down: not answering", "new: unknown", "hung: unknown", "gone: down", "off: disabled"]);
    expect(lines.join("\n")).not.toContain("excellent");
  });

  test("tooltip: a failing refresh shows its error, attempt and next retry (relative, as the tunnel's: not a UTC clock time); a required sign-in says so", () => {
    const next = new Date(Date.now() + 125_000).toISOString();
    const failing = daemonStatus({ auth: { state: "signed_in", subject: "alice", expiresAt: null, reason: "x", refresh: { lastError: "connection refused", attempt: 3, nextRetryAt: next, tokenExpired: true } } });
    const body = buildView(input(failing)).tooltip.body;
    expect(body).toContain("Sign-in: access token expired, refresh failing (attempt 3: connection refused), next retry in 2 min");
    expect(body).not.toContain(next.slice(11, 19));
    const required = daemonStatus({ auth: { state: "login_required", subject: null, expiresAt: null, reason: "the session could not be refreshed (invalid_grant)" } });
    expect(buildView(input(required)).tooltip.body).toContain("Sign-in: sign in again: the session could not be refreshed (invalid_grant)");
    expect(buildView(input(daemonStatus())).tooltip.body).not.toContain("Sign-in");
  });

  test("tooltip and menu: a degraded or down Ollama says why and what to do, never excellent, no stale figures", () => {
    const fix = "is Ollama running? `systemctl --user start ollama` or `ollama serve`";
    const degraded = daemonStatus({ upstreams: [upstream("local", { state: "degraded", quality: "poor", lastError: "connection refused" })], quality: "poor" });
    const v = buildView(input(degraded));
    expect(v.state).toBe("degraded");
    const lines = v.tooltip.body.split("\n");
    expect(lines[0]).toBe(`local is degraded: connection refused — ${fix}`);
    expect(lines[1]).toBe("local: degraded · poor · v0.6.2 · 2 models · p95 120 ms");
    expect(v.tooltip.body).not.toContain("excellent");
    expect(flat(v.menu).map((i) => i.label)).toContain(`local is degraded: connection refused — ${fix}`);
    const down = daemonStatus({ upstreams: [upstream("local", { state: "down", quality: "down", lastError: "connection refused" })], quality: "critical" });
    const d = buildView(input(down));
    expect(d.state).toBe("critical");
    expect(d.tooltip.body.split("\n").slice(0, 2)).toEqual([`local is down: connection refused — ${fix}`, "local: down"]);
    expect(d.tooltip.body).not.toContain("models");
    expect(d.tooltip.body).not.toContain("p95");
  });

  test("active alerts and incompatible daemons ask for attention", () => {
    const alert = { id: "config_rejected", rule: "config_rejected", severity: "warning" as const, subject: "config", message: "The config file was rejected", raisedAt: "2026-01-01T00:00:00Z" };
    const v = buildView(input(daemonStatus({ alerts: [alert] })));
    expect(v.status).toBe("NeedsAttention");
    expect(v.state).toBe("degraded");
    expect(v.tooltip.body).toContain("Alert: The config file was rejected");
    const c = buildView(input(daemonStatus(), { compatWarning: "daemon version 4.0.0 is not compatible with 3.0.0" }));
    expect(c.status).toBe("NeedsAttention");
    expect(item(c, "warning.compat").label).toBe("⚠ daemon version 4.0.0 is not compatible with 3.0.0");
  });

  test("menu: actions enabled only when they can work", () => {
    const off = buildView(input(null));
    expect(item(off, "daemon.start").visible).toBe(true);
    expect(item(off, "reconnect").enabled).toBe(false);
    expect(item(off, "tunnel").enabled).toBe(false);
    expect(item(off, "open.config").enabled).toBeUndefined();

    const disabled = buildView(input(daemonStatus({ tunnel: tunnel("disabled") })));
    expect(item(disabled, "daemon.start").visible).toBe(false);
    expect(item(disabled, "tunnel.restart").enabled).toBe(false);

    const stopped = buildView(input(daemonStatus({ tunnel: tunnel("stopped") })));
    expect(item(stopped, "tunnel.start").enabled).toBe(true);
    expect(item(stopped, "tunnel.stop").enabled).toBe(false);
    const connected = buildView(input(daemonStatus()));
    expect(item(connected, "tunnel.start").enabled).toBe(false);
    expect([item(connected, "tunnel.stop").enabled, item(connected, "tunnel.restart").enabled]).toEqual([true, true]);

    expect(item(connected, "notifications").toggle).toEqual({ type: "checkmark", state: true });
    expect(item(buildView(input(daemonStatus(), { notifications: false })), "notifications").toggle!.state).toBe(false);
    expect(flat(connected.menu).filter((i) => i.action).map((i) => i.action)).toEqual([
      "tunnel.start", "tunnel.stop", "tunnel.restart", "tunnel.copy-url", "reconnect", "auth.login", "auth.logout", "open.dashboard", "open.docs", "open.config", "notifications.toggle", "daemon.start", "open.log", "quit",
    ]);
    expect(item(connected, "about.daemon").label).toBe("Daemon 3.0.0 (abc123, development)");
  });
});

test("the log of a daemon the tray started is named: in the tooltip while it is not running, and as Open daemon log", () => {
  const log = "/home/u/.local/state/cloudtolocalllm/daemon.log";
  const off = buildView(input(null, { daemonLog: log }));
  expect(off.tooltip.body).toBe(`The daemon is not running.\nDaemon log: ${log}`);
  expect(item(off, "open.log").visible).toBe(true);
  expect(item(buildView(input(daemonStatus(), { daemonLog: log })), "open.log").visible).toBe(true);
  // Nothing to name when the tray never started one (systemd's journal has the log then).
  expect(item(buildView(input(null)), "open.log").visible).toBe(false);
  expect(buildView(input(null)).tooltip.body).toBe("The daemon is not running.");
});

test("a daemon that refuses the tray is critical, says why, and does not offer Start daemon", () => {
  const v = buildView(input(null, { linkProblem: "the daemon runs but refused the tray: missing or wrong API token" }));
  expect(v.state).toBe("critical");
  expect(v.status).toBe("NeedsAttention");
  expect(v.tooltip.body).toBe("Cannot follow the daemon: the daemon runs but refused the tray: missing or wrong API token");
  expect(item(v, "daemon.start").visible).toBe(false);
});

test("a dashboard access request waiting gets an Approve item with its code; an expired one does not", () => {
  const later = new Date(Date.now() + 60_000).toISOString();
  const gone = new Date(Date.now() - 1000).toISOString();
  const v = buildView(input(daemonStatus(), { accessRequests: [{ code: "K7QM-3XHD", expiresAt: later }, { code: "ZZZZ-2222", expiresAt: gone }] }));
  const approve = flat(v.menu).filter((i) => i.action === "dashboard.approve");
  expect(approve.map((i) => [i.key, i.label])).toEqual([["dashboard.approve.K7QM-3XHD", "Approve dashboard access: code K7QM-3XHD"]]);
  expect(flat(buildView(input(daemonStatus())).menu).some((i) => i.action === "dashboard.approve")).toBe(false);
});

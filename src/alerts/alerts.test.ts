// Alert rules with an injected clock: thresholds, raise once, recovery, cooldown, dedup, and no timer while nothing is pending.
import { changes } from "../config/changes.ts";
import { describe, expect, test } from "bun:test";
import type { Alert, BrokerService, UpstreamStatus } from "../core/contracts.ts";
import { EventBus, type EventMap, type EventType } from "../core/events.ts";
import { AlertEngine } from "./engine.ts";
import { ManualClock } from "../core/clock.ts";
import { AlertRules, fmtDuration, ruleSettings, ERROR_RATE_RECHECK_MS } from "./rules.ts";
import { defaultConfig } from "../config/load.ts";


function setup(over: Partial<ReturnType<typeof defaultConfig>["alerts"]> = {}, tunnelEnabled = false, ups: UpstreamStatus[] = []) {
  const config = defaultConfig();
  Object.assign(config.alerts, { upstream_down_after: "30s", quality_after: "60s", tunnel_down_after: "60s", cooldown: "5m", ...over });
  config.tunnel.enabled = tunnelEnabled;
  const clock = new ManualClock();
  const bus = new EventBus();
  const log: { type: string; alert: Alert }[] = [];
  const engine = new AlertEngine((type, alert) => log.push({ type, alert }), 5 * 60_000, clock);
  const broker = { upstreams: () => ups } as unknown as BrokerService;
  const rules = new AlertRules(engine, ruleSettings(config), () => broker, clock);
  bus.on("*", (e) => rules.onEvent(e));
  const emit = <K extends EventType>(type: K, data: EventMap[K]) => bus.emit(type, data);
  return { clock, engine, rules, log, emit, ups };
}

const down = (name = "local") => ({ name, from: "up" as const, to: "down" as const, reason: "connection refused" });
const up = (name = "local") => ({ name, from: "down" as const, to: "up" as const });

describe("alert rules", () => {
  test("an upstream-down alert carries the verdict's fix for its reason", () => {
    const local: UpstreamStatus = { name: "local", kind: "ollama", url: "http://127.0.0.1:11434", enabled: true, priority: 100, state: "down", quality: "down", version: null, models: [], lastCheck: null, lastError: "connection refused", metrics: {} as UpstreamStatus["metrics"] };
    const { clock, log, emit } = setup({}, false, [local]);
    emit("upstream.state", down());
    clock.advance(30_000);
    expect(log[0]!.alert.message).toBe("Upstream local has been down for 30 s: connection refused — is Ollama running? `systemctl --user start ollama` or `ollama serve`");
  });

  test("an upstream down for the threshold raises once; recovery clears with a message", () => {
    const { clock, engine, log, emit } = setup();
    emit("upstream.state", down());
    expect(engine.pending()).toBe(true);
    clock.advance(29_999);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log.map((l) => l.type)).toEqual(["alert.raised"]);
    expect(log[0]!.alert).toMatchObject({ id: "upstream_down:local", rule: "upstream_down", severity: "critical", subject: "local" });
    expect(log[0]!.alert.message).toBe("Upstream local has been down for 30 s: connection refused");
    // still down, more events: deduplicated
    emit("upstream.state", down());
    clock.advance(120_000);
    expect(log.length).toBe(1);
    expect(engine.active().map((a) => a.id)).toEqual(["upstream_down:local"]);
    expect(engine.pending()).toBe(false); // nothing to wait for: no timer
    emit("upstream.state", up());
    expect(log.map((l) => l.type)).toEqual(["alert.raised", "alert.cleared"]);
    expect(log[1]!.alert.message).toBe("Upstream local is back up after 2 min 30 s");
    expect(log[1]!.alert.clearedAt).toBeDefined();
    expect(engine.active()).toEqual([]);
  });

  test("a blip shorter than the threshold raises nothing and leaves no timer", () => {
    const { clock, engine, log, emit } = setup();
    emit("upstream.state", down());
    clock.advance(10_000);
    emit("upstream.state", up());
    expect(engine.pending()).toBe(false);
    clock.advance(60_000);
    expect(log).toEqual([]);
  });

  test("flapping inside the cooldown raises nothing extra; a condition still there after the cooldown raises again", () => {
    const { clock, log, emit } = setup();
    emit("upstream.state", down());
    clock.advance(30_000);
    emit("upstream.state", up());
    expect(log.length).toBe(2);
    for (let i = 0; i < 5; i++) {
      emit("upstream.state", down());
      clock.advance(40_000); // longer than the threshold, but inside the 5 min cooldown
      emit("upstream.state", up());
      clock.advance(5_000);
    }
    expect(log.length).toBe(2);
    // down again and staying down: raised once the cooldown is over
    emit("upstream.state", down());
    clock.advance(60_000); // t = 5 min 15 s: still inside the cooldown that ends at 5 min 30 s
    expect(log.length).toBe(2);
    clock.advance(15_000);
    expect(log.length).toBe(3);
    expect(log[2]!.type).toBe("alert.raised");
  });

  test("quality at or below the level for the duration raises; 'down' is left to the upstream-down rule", () => {
    const { clock, log, emit } = setup({ quality_level: "poor" });
    emit("upstream.quality", { name: "gpu", from: "excellent", to: "good" });
    clock.advance(120_000);
    expect(log).toEqual([]);
    emit("upstream.quality", { name: "gpu", from: "good", to: "poor" });
    clock.advance(59_000);
    emit("upstream.quality", { name: "gpu", from: "poor", to: "critical" });
    clock.advance(1_000);
    expect(log.map((l) => [l.type, l.alert.id, l.alert.severity])).toEqual([["alert.raised", "quality:gpu", "critical"]]);
    emit("upstream.quality", { name: "gpu", from: "critical", to: "down" });
    expect(log.at(-1)!.type).toBe("alert.cleared");
  });

  test("error rate above the limit over the window raises; it is re-read while it holds and clears as the window slides", () => {
    const u = { name: "local", enabled: true, state: "up", quality: "good", metrics: { requests: 20, errors: 8, errorRate: 0.4 } } as unknown as UpstreamStatus;
    const { clock, engine, log, emit } = setup({ error_rate: 0.25 }, false, [u]);
    emit("request.completed", {} as EventMap["request.completed"]);
    emit("request.completed", {} as EventMap["request.completed"]);
    clock.advance(1000);
    expect(log.map((l) => l.alert.id)).toEqual(["error_rate:local"]);
    expect(log[0]!.alert.message).toContain("40 % of requests failed over the last 5m (8 of 20)");
    (u.metrics as { errorRate: number }).errorRate = 0.1;
    clock.advance(ERROR_RATE_RECHECK_MS);
    expect(log.map((l) => l.type)).toEqual(["alert.raised", "alert.cleared"]);
    expect(engine.pending()).toBe(false);
    clock.advance(60_000);
    expect(log.length).toBe(2);
  });

  test("failures while the upstream is down are the upstream_down alert's, not an error rate; back up, the rate is re-read at once", () => {
    const u = { name: "local", enabled: true, state: "down", quality: "down", metrics: { requests: 10, errors: 10, errorRate: 1 } } as unknown as UpstreamStatus;
    const { clock, log, emit } = setup({ error_rate: 0.25, upstream_down_after: "10m" }, false, [u]);
    emit("request.completed", {} as EventMap["request.completed"]);
    clock.advance(5000);
    expect(log).toEqual([]);
    // Up again with the outage's failures forgotten (the broker drops them from the window): still nothing.
    Object.assign(u, { state: "up", quality: "excellent", metrics: { requests: 0, errors: 0, errorRate: 0 } });
    emit("upstream.state", { name: "local", from: "down", to: "up" });
    clock.advance(60_000);
    expect(log).toEqual([]);
  });

  test("too few requests say nothing about the error rate", () => {
    const u = { name: "local", enabled: true, state: "up", quality: "good", metrics: { requests: 2, errors: 2, errorRate: 1 } } as unknown as UpstreamStatus;
    const { clock, log, emit } = setup({}, false, [u]);
    emit("request.completed", {} as EventMap["request.completed"]);
    clock.advance(5000);
    expect(log).toEqual([]);
  });

  test("tunnel disconnected for the threshold raises only when the tunnel is enabled", () => {
    const t = (state: string) => ({ state, protocol: "v2", relay: "wss://relay.example/agent", since: null, nextRetry: null, attempt: 1, lastError: "connection refused", tunnelId: null, activeStreams: 0 }) as EventMap["tunnel.state"];
    const off = setup({}, false);
    off.emit("tunnel.state", t("reconnecting"));
    off.clock.advance(120_000);
    expect(off.log).toEqual([]);
    const on = setup({}, true);
    on.emit("tunnel.state", t("connecting"));
    on.clock.advance(30_000);
    on.emit("tunnel.state", t("reconnecting")); // still the same outage
    on.clock.advance(30_000);
    expect(on.log.map((l) => l.alert.id)).toEqual(["tunnel_down"]);
    expect(on.log[0]!.alert.message).toContain("wss://relay.example/agent has been disconnected for 1 min: connection refused");
    on.emit("tunnel.state", t("connected"));
    expect(on.log.map((l) => l.type)).toEqual(["alert.raised", "alert.cleared"]);
  });

  test("a wall clock set back an hour (NTP, a user) holds no alert back: the tunnel down for its threshold raises then, not an hour later", () => {
    const t = (state: string) => ({ state, protocol: "v2", relay: "wss://relay.example/agent", since: null, nextRetry: null, attempt: 1, lastError: "connection refused", tunnelId: null, activeStreams: 0 }) as EventMap["tunnel.state"];
    const { clock, log, emit } = setup({}, true);
    emit("tunnel.state", t("reconnecting"));
    clock.advance(10_000);
    clock.jumpWall(-3_600_000);
    clock.advance(49_999);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log.map((l) => [l.type, l.alert.id])).toEqual([["alert.raised", "tunnel_down"]]);
    expect(log[0]!.alert.message).toContain("has been disconnected for 1 min");
  });

  test("across a wall clock set back an hour: an upstream back up says how long it was down, and the cooldown after it ends on time", () => {
    const { clock, log, emit } = setup();
    emit("upstream.state", down());
    clock.advance(30_000);
    clock.jumpWall(-3_600_000);
    clock.advance(120_000);
    emit("upstream.state", up());
    expect(log.map((l) => l.type)).toEqual(["alert.raised", "alert.cleared"]);
    expect(log[1]!.alert.message).toBe("Upstream local is back up after 2 min 30 s");
    // Down again and staying down: raised once the 5 min cooldown is over, not an hour later.
    clock.jumpWall(-3_600_000);
    emit("upstream.state", down());
    clock.advance(5 * 60_000 - 1);
    expect(log.length).toBe(2);
    clock.advance(1);
    expect(log.map((l) => l.type)).toEqual(["alert.raised", "alert.cleared", "alert.raised"]);
  });

  test("a laptop's night asleep (the wall clock on 8 h, the monotonic one and the timers not): a condition that held when the lid closed is not raised on waking; the health check and the reconnect that follow clear it with nothing raised", () => {
    const t = (state: string) => ({ state, protocol: "v2", relay: "wss://relay.example/agent", since: null, nextRetry: null, attempt: 1, lastError: "connection refused", tunnelId: null, activeStreams: 0 }) as EventMap["tunnel.state"];
    const { clock, log, emit } = setup({}, true);
    emit("upstream.state", down());
    clock.advance(10_000);
    clock.jumpWall(8 * 3_600_000);
    // Waking: the tunnel's session is seen dead at once, and the daemon's events run the engine.
    emit("tunnel.state", t("reconnecting"));
    clock.advance(1_000);
    emit("upstream.state", up());
    emit("tunnel.state", t("connected"));
    clock.advance(600_000);
    expect(log).toEqual([]);
    // Still down for its threshold of time awake: raised.
    emit("upstream.state", down());
    clock.advance(30_000);
    expect(log.map((l) => l.alert.id)).toEqual(["upstream_down:local"]);
  });

  test("login required comes at once from auth.state or tunnel auth_failed, deduplicated, cleared by signing in", () => {
    const { log, emit } = setup({}, true);
    emit("auth.state", { state: "login_required", reason: "the refresh token expired" });
    emit("tunnel.state", { state: "auth_failed", protocol: "v2", relay: null, since: null, nextRetry: null, attempt: 0, lastError: "401", tunnelId: null, activeStreams: 0 });
    expect(log.map((l) => [l.type, l.alert.id, l.alert.severity])).toEqual([["alert.raised", "login_required", "critical"]]);
    expect(log[0]!.alert.message).toBe("Sign-in required: the refresh token expired. Run `cloudtolocalllm-tunnel login`");
    emit("auth.state", { state: "signed_in", subject: "me" });
    expect(log.map((l) => l.type)).toEqual(["alert.raised", "alert.cleared"]);
  });

  test("a stored token the relay refuses: the alert gives the tunnel's own fix (`secret set`), not `login`", () => {
    const { log, emit } = setup({}, true);
    const fix = "store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`";
    emit("tunnel.state", { state: "auth_failed", protocol: "v2", relay: null, since: null, nextRetry: null, attempt: 0, lastError: "the relay refused the agent token (401)", lastErrorCode: "unauthorized", fix, tunnelId: null, activeStreams: 0 });
    expect(log.map((l) => l.alert.id)).toEqual(["login_required"]);
    expect(log[0]!.alert.message).toBe(`The tunnel has no accepted credential: the relay refused the agent token (401). Fix: ${fix}`);
  });

  test("config rejected raises with file, line and column; config reloaded clears it", () => {
    const { log, emit } = setup();
    emit("config.rejected", { path: "/home/u/.config/cloudtolocalllm/tunnel.toml", message: "expected a number", line: 7, column: 9, field: "proxy.max_attempts" });
    expect(log[0]!.alert.message).toBe(
      "The config file was rejected (/home/u/.config/cloudtolocalllm/tunnel.toml:7:9: proxy.max_attempts: expected a number); the previous settings stay in effect",
    );
    emit("config.reloaded", { path: "x", sections: ["proxy"], version: 2 });
    expect(log.map((l) => l.type)).toEqual(["alert.raised", "alert.cleared"]);
  });

  test("an upstream already down when alerts start is picked up", () => {
    const u = { name: "local", enabled: true, state: "down", quality: "down", lastError: "refused", metrics: { requests: 0, errors: 0, errorRate: 0 } } as unknown as UpstreamStatus;
    const { clock, rules, log } = setup({}, false, [u]);
    rules.scan();
    clock.advance(30_000);
    expect(log.map((l) => l.alert.id)).toEqual(["upstream_down:local"]);
  });

  test("an upstream not checked yet when alerts start (quality critical: never answered) raises no quality alert", () => {
    const u = { name: "local", enabled: true, state: "unknown", quality: "critical", lastError: null, metrics: { requests: 0, errors: 0, errorRate: 0 } } as unknown as UpstreamStatus;
    const { clock, engine, rules, log, emit } = setup({ quality_level: "critical" }, false, [u]);
    rules.scan();
    expect(engine.pending()).toBe(false);
    clock.advance(120_000);
    expect(log).toEqual([]);
    // its first check decides: down is the upstream-down rule's, a low quality once it answers is this rule's
    emit("upstream.quality", { name: "local", from: "critical", to: "poor" });
    emit("upstream.quality", { name: "local", from: "poor", to: "critical" });
    clock.advance(60_000);
    expect(log.map((l) => [l.alert.id, l.alert.severity])).toEqual([["quality:local", "critical"]]);
  });
});

describe("alerts component", () => {
  test("an upstream removed from the config ends its alert; turning alerts off clears the rest", async () => {
    const { alertsComponentFactory } = await import("./component.ts");
    const clock = new ManualClock();
    const config = defaultConfig();
    config.alerts.upstream_down_after = "1s";
    config.upstreams = [{ ...config.upstreams[0]!, name: "a" }, { ...config.upstreams[0]!, name: "a2" }];
    let current = config;
    const events = new EventBus();
    const seen: string[] = [];
    events.on("*", (e) => {
      if (e.type.startsWith("alert.")) seen.push(`${e.type} ${(e.data as Alert).id}`);
    });
    const sent: string[] = [];
    const ctx = { config: { current: () => current }, events, services: {} } as unknown as Parameters<ReturnType<typeof alertsComponentFactory>>[0];
    const c = alertsComponentFactory({ clock, notifier: { warning: () => null, send: async (n) => (sent.push(n.title), true) } })(ctx);
    await c.start();
    events.emit("upstream.state", down("a"));
    events.emit("upstream.state", down("a2"));
    clock.advance(1000);
    expect(ctx.services.alerts!.active().map((a) => a.id).sort()).toEqual(["upstream_down:a", "upstream_down:a2"]);
    expect(sent).toEqual(["Upstream down", "Upstream down"]);
    const next = structuredClone(current);
    next.upstreams = [next.upstreams[1]!];
    const prev = current;
    current = next;
    await c.apply!(next, prev, changes(prev, next));
    expect(seen).toContain("alert.cleared upstream_down:a");
    expect(ctx.services.alerts!.active().map((a) => a.id)).toEqual(["upstream_down:a2"]);
    const off = structuredClone(next);
    off.alerts.enabled = false;
    current = off;
    await c.apply!(off, next, changes(next, off));
    expect(ctx.services.alerts!.active()).toEqual([]);
    await c.stop();
  });

  test("an upstream disabled in the config ends its alerts too: it is no longer checked, so it could never clear", async () => {
    const { alertsComponentFactory } = await import("./component.ts");
    const clock = new ManualClock();
    const config = defaultConfig();
    config.alerts.upstream_down_after = "1s";
    config.upstreams = [{ ...config.upstreams[0]!, name: "a" }];
    let current = config;
    const events = new EventBus();
    const ctx = { config: { current: () => current }, events, services: {} } as unknown as Parameters<ReturnType<typeof alertsComponentFactory>>[0];
    const c = alertsComponentFactory({ clock, notifier: { warning: () => null, send: async () => true } })(ctx);
    await c.start();
    events.emit("upstream.state", down("a"));
    clock.advance(1000);
    expect(ctx.services.alerts!.active().map((a) => a.id)).toEqual(["upstream_down:a"]);
    const next = structuredClone(current);
    next.upstreams[0]!.enabled = false;
    const prev = current;
    current = next;
    await c.apply!(next, prev, changes(prev, next));
    expect(ctx.services.alerts!.active()).toEqual([]);
    await c.stop();
  });

  test("notify() (a dashboard access request) goes to the desktop while [alerts] notifications is on, and not when off", async () => {
    const { alertsComponentFactory } = await import("./component.ts");
    let current = defaultConfig();
    const sent: string[] = [];
    const ctx = { config: { current: () => current }, events: new EventBus(), services: {} } as unknown as Parameters<ReturnType<typeof alertsComponentFactory>>[0];
    const c = alertsComponentFactory({ clock: new ManualClock(), notifier: { warning: () => null, send: async (n) => (sent.push(`${n.title}: ${n.body}`), true) } })(ctx);
    await c.start();
    ctx.services.alerts!.notify!({ title: "Dashboard access requested", body: "code K7QM-3XHD", urgency: "normal" });
    current = structuredClone(current);
    current.alerts.notifications = false;
    ctx.services.alerts!.notify!({ title: "Dashboard access requested", body: "code ZZZZ-2222", urgency: "normal" });
    expect(sent).toEqual(["Dashboard access requested: code K7QM-3XHD"]);
    await c.stop();
  });

  test("a notifier problem (notify-send missing) shows in the service's warnings while notifications are on", async () => {
    const { alertsComponentFactory } = await import("./component.ts");
    const { createNotifier, MISSING_NOTIFY_SEND } = await import("../desktop/notify/notifier.ts");
    const { setLogSink } = await import("../core/log.ts");
    setLogSink(() => {});
    try {
      const clock = new ManualClock();
      let current = defaultConfig();
      const events = new EventBus();
      const ctx = { config: { current: () => current }, events, services: {} } as unknown as Parameters<ReturnType<typeof alertsComponentFactory>>[0];
      const c = alertsComponentFactory({ clock, notifier: createNotifier({ which: () => null }) })(ctx);
      await c.start();
      events.emit("config.rejected", { path: "f", message: "bad" });
      await Bun.sleep(0);
      const svc = ctx.services.alerts as { warnings(): string[] };
      expect(svc.warnings()).toEqual([MISSING_NOTIFY_SEND]);
      current = structuredClone(current);
      current.alerts.notifications = false;
      expect(svc.warnings()).toEqual([]);
      await c.stop();
    } finally {
      setLogSink((line) => process.stderr.write(line + "\n"));
    }
  });

  test("login_required is raised at once even within the cooldown of an earlier one; a signed-out tunnel raises nothing", () => {
    const { engine, log, emit } = setup({}, true);
    const tunnel = { protocol: "v2" as const, relay: "wss://r/agent", since: null, nextRetry: null, attempt: 0, tunnelId: null, activeStreams: 0 };
    emit("tunnel.state", { ...tunnel, state: "auth_failed", lastError: "signed out: sign in with `cloudtolocalllm-tunnel login`", lastErrorCode: "signed_out" });
    expect(log).toEqual([]);
    emit("auth.state", { state: "login_required", reason: "the session could not be refreshed (invalid_grant)" });
    emit("auth.state", { state: "signed_in", subject: "alice" });
    emit("auth.state", { state: "login_required", reason: "revoked again" });
    expect(log.map((l) => `${l.type} ${l.alert.id}`)).toEqual(["alert.raised login_required", "alert.cleared login_required", "alert.raised login_required"]);
    emit("tunnel.state", { ...tunnel, state: "auth_failed", lastError: "signed out", lastErrorCode: "signed_out" });
    expect(engine.active()).toEqual([]);
  });

  test("token_expired: raised when the access token expires while refreshes fail, cleared by the next success", () => {
    const { engine, log, emit } = setup();
    const refresh = { lastError: "connection refused", attempt: 2, nextRetryAt: null, tokenExpired: false };
    emit("auth.state", { state: "signed_in", reason: "refreshing failed", refresh });
    expect(log).toEqual([]);
    emit("auth.state", { state: "signed_in", reason: "expired", refresh: { ...refresh, tokenExpired: true } });
    expect(engine.active().map((a) => [a.id, a.severity])).toEqual([["token_expired", "critical"]]);
    expect(engine.active()[0]!.message).toContain("attempt 2: connection refused");
    emit("auth.state", { state: "signed_in", subject: "alice" });
    expect(log.map((l) => `${l.type} ${l.alert.id} ${l.alert.message}`).at(-1)).toBe("alert.cleared token_expired The access token was refreshed");
  });

  test("sign_in_unstored: a warning while signed in with tokens the store refused, cleared once they are stored", () => {
    const { engine, log, emit } = setup();
    emit("auth.state", { state: "signed_in", subject: "alice", unstored: "for this run only: the tokens could not be stored (locked)" });
    expect(engine.active().map((a) => [a.id, a.severity, a.message])).toEqual([["sign_in_unstored", "warning", "Signed in for this run only: the tokens could not be stored (locked)"]]);
    emit("auth.state", { state: "signed_in", subject: "alice" });
    expect(log.map((l) => `${l.type} ${l.alert.id} ${l.alert.message}`).at(-1)).toBe("alert.cleared sign_in_unstored The sign-in tokens are stored now");
    expect(engine.active()).toEqual([]);
  });
});

test("durations in alert texts: under a second in ms (never \"0 s\"), then s, min and h", () => {
  expect([fmtDuration(300), fmtDuration(999), fmtDuration(1000), fmtDuration(90_000), fmtDuration(3_720_000)]).toEqual(["300 ms", "999 ms", "1 s", "1 min 30 s", "1 h 2 min"]);
});

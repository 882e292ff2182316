// Desktop notifications end to end: a real daemon, a fake Ollama going down and up, the real notify-send, a stub notification server.
import { expect } from "bun:test";
import { join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { startDaemon, removeHome, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startNotifications, startPrivateBus, until, type NotificationsStub, type PrivateBus } from "./private-bus.ts";
import { createNotifier, MISSING_NOTIFY_SEND } from "../../src/desktop/notify/notifier.ts";
import { setLogSink } from "../../src/core/log.ts";
import { iconInstalled } from "../../src/desktop/icons/installed.ts";
import { APP_ICON } from "../../src/desktop/icons/shapes.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, describe, test } = requireTools(["dbus-daemon", "notify-send"]);

let bus: PrivateBus;
let server: { stub: NotificationsStub; stop(): void };
let ollama: FakeOllama;
let daemon: DaemonProc;

beforeAll(async () => {
  bus = await startPrivateBus();
  server = await startNotifications(bus.address);
  ollama = await startFakeOllama({ models: ["llama3.2:1b"] });
  daemon = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[[upstreams]]
name = "local"
url = "${ollama.url}"
[health]
interval = "150ms"
down_interval = "150ms"
timeout = "500ms"
failures_before_down = 1
[alerts]
upstream_down_after = "1.5s"
cooldown = "8s"
`,
    env: { DBUS_SESSION_BUS_ADDRESS: bus.address },
    waitFor: ["api"],
  });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await ollama?.stop();
  server?.stop();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

describe("desktop notifications for alerts", () => {
  test("down past the threshold: exactly one notification; recovery: one more; flapping inside the cooldown: none", async () => {
    const got = server.stub.received;
    await daemon.waitFor(/upstream.*local.*\bup\b|local.*state.*up/i, 3000).catch(() => {}); // let the first check land
    await Bun.sleep(400);
    expect(got.length).toBe(0);

    // a blip shorter than the threshold: nothing
    ollama.setHealthy(false);
    await Bun.sleep(300);
    ollama.setHealthy(true);
    await Bun.sleep(1200);
    expect(got.length).toBe(0);

    ollama.setHealthy(false);
    await until(() => got.length >= 1, 8000, `the "down" notification (daemon log:\n${daemon.stderr()})`);
    await Bun.sleep(600); // anything extra would show up now
    expect(got.length).toBe(1);
    const n = got[0]!;
    expect(n.appName).toBe("CloudToLocalLLM tunnel");
    expect(n.summary).toBe("Upstream down");
    expect(n.body).toStartWith("Upstream local has been down for 2 s"); // 1.5 s, rounded
    expect(n.hints.urgency).toBe(2); // critical
    expect(n.hints["desktop-entry"]).toBe("cloudtolocalllm-tunnel");
    expect(n.timeout).toBe(0); // critical ones stay until dismissed
    expect(n.icon).toMatch(/cloudtolocalllm-tunnel(\.png)?$/);

    ollama.setHealthy(true);
    await until(() => got.length >= 2, 8000, "the recovery notification");
    expect(got[1]!.summary).toBe("Resolved: Upstream down");
    expect(got[1]!.body).toStartWith("Upstream local is back up after");
    expect(got[1]!.hints.urgency).toBe(0);

    // flapping, each time longer than the threshold, all inside the 8 s cooldown
    for (let i = 0; i < 2; i++) {
      ollama.setHealthy(false);
      await Bun.sleep(1900);
      ollama.setHealthy(true);
      await Bun.sleep(500);
    }
    expect(got.length).toBe(2);
  }, 40_000);
});

describe("a notification's body is text, never markup", () => {
  test("a relay's close reason with a link and tags reaches the notification server escaped (the title as it was)", async () => {
    // notify-send runs with this process's environment: the private bus goes there for the length of the send, and
    // the bus' own dir stands in for HOME and $XDG_RUNTIME_DIR, where the notifier writes its private icon theme
    // (never the user's $XDG_RUNTIME_DIR/cloudtolocalllm/icons).
    const vars = { DBUS_SESSION_BUS_ADDRESS: bus.address, HOME: bus.dir, XDG_RUNTIME_DIR: bus.dir, XDG_STATE_HOME: join(bus.dir, "state"), XDG_DATA_HOME: join(bus.dir, "data") };
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    const n = createNotifier();
    const before = server.stub.received.length;
    const reason = `the relay closed the connection: <a href="https://evil.example/login">Sign in again</a> & <img src="https://evil.example/t.png">`;
    try {
      expect(await n.send({ title: "Tunnel <b>disconnected</b>", body: reason, urgency: "normal" })).toBe(true);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const got = await until(() => server.stub.received[before], 10_000, "the notification");
    expect(got.body).toBe(
      "the relay closed the connection: &lt;a href=\"https://evil.example/login\"&gt;Sign in again&lt;/a&gt; &amp; &lt;img src=\"https://evil.example/t.png\"&gt;",
    );
    expect(got.body).not.toContain("<");
    expect(got.summary).toBe("Tunnel <b>disconnected</b>");
    // Its icon: the installed one by name, else the private copy, written under the stand-in dir only.
    expect(got.icon).toBe(iconInstalled(APP_ICON) ? APP_ICON : join(bus.dir, "cloudtolocalllm/icons", `${APP_ICON}.png`));
  }, 30_000);
});

describe("notifier without notify-send", () => {
  test("is reported once as a warning, never thrown", async () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    try {
      const n = createNotifier({ which: () => null });
      expect(n.warning()).toBeNull();
      expect(await n.send({ title: "t", body: "b", urgency: "normal" })).toBe(false);
      expect(await n.send({ title: "t", body: "b", urgency: "critical" })).toBe(false);
      expect(n.warning()).toBe(MISSING_NOTIFY_SEND);
      expect(lines.filter((l) => l.includes("notify-send was not found")).length).toBe(1);
    } finally {
      setLogSink((line) => process.stderr.write(line + "\n"));
    }
  }, 30_000);
});

describe("a daemon without a session bus", () => {
  test("its alerts cannot be shown: one short log line says why (not notify-send's command and D-Bus' advice each time)", async () => {
    // No DBUS_SESSION_BUS_ADDRESS and no $XDG_RUNTIME_DIR/bus, as under a user manager started without a desktop.
    const d = await startDaemon({ config: TEST_DAEMON_TOML });
    try {
      // Raised (rejected config), then cleared (accepted again): two notifications that cannot be shown.
      await Bun.write(d.configFile, `${TEST_DAEMON_TOML}[proxy]\nmax_attempts = "three"\n`);
      await d.waitFor(/configuration rejected/, 10_000);
      await Bun.write(d.configFile, `${TEST_DAEMON_TOML}# fixed\n`);
      await d.waitFor(/alert cleared id=config_rejected/, 10_000);
      await Bun.sleep(500);
      const lines = d.stderr().split("\n").filter((l) => /notif|D-Bus|notify-send/.test(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/ warn notify: desktop notification failed: no session bus \(DBUS_SESSION_BUS_ADDRESS unset\)$/);
    } finally {
      await d.stop();
      removeHome(d.home);
    }
  }, 30_000);
});

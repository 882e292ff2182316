// `doctor` as a user runs it: a healthy desktop (private bus, watcher, notification server, Ollama) exits 0; broken parts exit 1 with fixes.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, homeEnv, removeHome, tempHome } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { closedPort, ownPortsToml } from "../helpers/own-ports.ts";
import { startNotifications, startPrivateBus, startWatcher, type PrivateBus } from "./private-bus.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, describe, test } = requireTools(["dbus-daemon", "notify-send"]);

interface Check {
  name: string;
  level: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

let bus: PrivateBus;
let ollama: FakeOllama;
const homes: string[] = [];
const cleanups: (() => void)[] = [];

async function doctor(config: string, env: Record<string, string> = {}, args: string[] = ["--json"], secrets: Record<string, string> = {}) {
  const home = tempHome("c2l-doctor-");
  homes.push(home);
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  // Its own [api] and [proxy] addresses (where doctor looks for the daemon): never a daemon running on the defaults.
  writeFileSync(file, /^\[(api|proxy)\]/m.test(config) ? config : ownPortsToml() + config);
  // Secrets as `secret set` keeps them without a keyring (the 0600 file of [secrets] backend = "file").
  if (Object.keys(secrets).length) {
    mkdirSync(join(home, ".local/state/cloudtolocalllm"), { recursive: true });
    writeFileSync(join(home, ".local/state/cloudtolocalllm/secrets.json"), JSON.stringify({ version: 1, secrets }), { mode: 0o600 });
  }
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "doctor", "--config", file, ...args], {
    env: { ...homeEnv(home), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code, home, checks: args.includes("--json") ? (JSON.parse(out).checks as Check[]) : [] };
}
const find = (checks: Check[], name: string) => checks.find((c) => c.name === name)!;

beforeAll(async () => {
  bus = await startPrivateBus();
  ollama = await startFakeOllama();
  const w = await startWatcher(bus.address);
  const n = await startNotifications(bus.address);
  cleanups.push(w.stop, n.stop);
}, 60_000);

afterAll(async () => {
  for (const c of cleanups) c();
  await ollama?.stop();
  await bus?.stop();
  for (const h of homes) removeHome(h);
}, 30_000);

describe("doctor", () => {
  test("a working desktop: every needed check passes and the exit code is 0", async () => {
    const r = await doctor(`[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n[secrets]\nbackend = "file"\n`, { DBUS_SESSION_BUS_ADDRESS: bus.address });
    expect(r.code).toBe(0);
    expect(find(r.checks, "Config").level).toBe("ok");
    expect(find(r.checks, 'Upstream "local"')).toMatchObject({ level: "ok" });
    expect(find(r.checks, "Session bus").level).toBe("ok");
    expect(find(r.checks, "Tray host").level).toBe("ok");
    expect(find(r.checks, "Notification server").level).toBe("ok");
    expect(find(r.checks, "notify-send").level).toBe("ok");
    expect(find(r.checks, "Secret store").level).toBe("ok");
    expect(r.checks.some((c) => c.name === "Relay")).toBe(false); // tunnel disabled: not checked
    expect(find(r.checks, "Daemon").level).toBe("warn"); // not running here
    expect(find(r.checks, "systemd user unit").fix).toBeDefined();
  }, 30_000);

  test("broken parts: unreachable Ollama and relay fail with fixes, no bus / watcher / notify-send warn, exit 1", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const deadPort = closed.port;
    closed.stop(true);
    const r = await doctor(
      `[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:${deadPort}"\n[tunnel]\nenabled = true\nrelay_url = "ws://127.0.0.1:${deadPort}/agent"\n`,
      { PATH: "/nonexistent" },
    );
    expect(r.code).toBe(1);
    expect(find(r.checks, 'Upstream "local"')).toMatchObject({ level: "fail", detail: expect.stringContaining("connection refused") });
    expect(find(r.checks, 'Upstream "local"').fix).toContain("ollama serve");
    expect(find(r.checks, "Relay")).toMatchObject({ level: "fail", detail: expect.stringContaining("connection refused") });
    expect(find(r.checks, "Session bus").level).toBe("warn");
    expect(find(r.checks, "notify-send")).toMatchObject({ level: "warn", fix: expect.stringContaining("libnotify-bin") });
  }, 30_000);

  test("notify-send installed but no session bus: a warning saying so (as the daemon's log does), and the daemon's log file is named", async () => {
    // systemctl that finds no user manager, as on a desktop without systemd: the log is then the tray's file.
    const bin = tempHome("c2l-doctor-bin-");
    homes.push(bin);
    writeFileSync(join(bin, "systemctl"), "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n", { mode: 0o755 });
    const r = await doctor(`[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n[secrets]\nbackend = "file"\n`, { PATH: `${bin}:${process.env.PATH}` });
    // Before: "✓ notify-send /usr/bin/notify-send" while every notification failed with "Cannot autolaunch D-Bus".
    expect(find(r.checks, "notify-send")).toMatchObject({ level: "warn", detail: expect.stringContaining("cannot deliver: no session bus (DBUS_SESSION_BUS_ADDRESS unset)") });
    expect(find(r.checks, "Daemon log")).toMatchObject({ level: "ok", detail: expect.stringContaining(join(r.home, ".local/state/cloudtolocalllm/daemon.log")) });
  }, 30_000);

  test("no tray host on the bus is a warning with the fix", async () => {
    const lonely = await startPrivateBus();
    try {
      const r = await doctor(`[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n[secrets]\nbackend = "file"\n`, { DBUS_SESSION_BUS_ADDRESS: lonely.address });
      expect(r.code).toBe(0);
      expect(find(r.checks, "Tray host")).toMatchObject({ level: "warn", fix: expect.stringContaining("AppIndicator") });
      expect(find(r.checks, "Notification server").level).toBe("warn");
    } finally {
      await lonely.stop();
    }
  }, 30_000);

  test("an upstream that needs a key is probed with its auth_secret, as the daemon calls it; a refused or missing key names the secret", async () => {
    const KEY = "sk-upstream-0123456789abcdef";
    const keyed = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => (req.headers.get("authorization") === `Bearer ${KEY}` ? Response.json({ version: "0.6.2" }) : new Response("unauthorized", { status: 401 })),
    });
    try {
      const config = `[[upstreams]]\nname = "keyed"\nurl = "http://127.0.0.1:${keyed.port}"\nauth_secret = "keyed-key"\n[secrets]\nbackend = "file"\n`;
      const stored = await doctor(config, {}, ["--json"], { "keyed-key": KEY });
      expect(find(stored.checks, 'Upstream "keyed"')).toMatchObject({ level: "ok", detail: expect.stringContaining("is reachable (HTTP 200)") });
      const wrong = await doctor(config, {}, ["--json"], { "keyed-key": "sk-stale-0123456789abcdef" });
      expect(find(wrong.checks, 'Upstream "keyed"')).toMatchObject({
        level: "warn",
        detail: expect.stringContaining('refuses the key in auth_secret "keyed-key" (HTTP 401)'),
        fix: "store the key it expects: `cloudtolocalllm-tunnel secret set keyed-key`",
      });
      const missing = await doctor(config);
      expect(find(missing.checks, 'Upstream "keyed"')).toMatchObject({ level: "warn", detail: expect.stringContaining('its auth secret "keyed-key" is not stored') });
      // The environment override counts, as it does for the daemon.
      const env = await doctor(config, { CLOUDTOLOCALLLM_SECRET_KEYED_KEY: KEY });
      expect(find(env.checks, 'Upstream "keyed"').level).toBe("ok");
      for (const r of [stored, wrong, missing, env]) expect(r.out + r.err).not.toContain("0123456789abcdef");
    } finally {
      keyed.stop(true);
    }
  }, 30_000);

  test("an invalid config fails with line and column, and the checklist is readable", async () => {
    // Its own ports in the invalid file too: doctor still looks for the daemon at its [api] listen.
    const r = await doctor(`[api]\nlisten = "127.0.0.1:${closedPort()}"\n[proxy]\nlisten = "127.0.0.1:${closedPort()}"\nmax_attempts = "three"\n`, {}, []);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/✗ Config .*tunnel\.toml.*proxy\.max_attempts/);
    expect(r.out).toContain("fix: fix the file at the place shown");
    expect(r.out).toMatch(/\d+ problems? to fix/);
  }, 30_000);
});

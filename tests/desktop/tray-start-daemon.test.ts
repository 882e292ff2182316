// "Start daemon" from the tray menu when the daemon is not running (no systemd user manager: a detached `serve`).
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import { BUN, REPO, homeEnv, removeHome, tempHome } from "../helpers/daemon.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { spawnTray, startPrivateBus, startWatcher, until } from "./private-bus.ts";
import { RUNTIME_ENV } from "../../src/core/runtime-tuning.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, test } = requireTools(["dbus-daemon"]);

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
}, 30_000);

test("Start daemon spawns `serve` with the tray's config, logging to $XDG_STATE_HOME/cloudtolocalllm/daemon.log, which the tray and doctor name; the tray follows it", async () => {
  const bus = await startPrivateBus();
  cleanups.push(() => bus.stop());
  const watcher = await startWatcher(bus.address);
  cleanups.push(() => watcher.stop());
  const ollama = await startFakeOllama();
  cleanups.push(() => ollama.stop());
  const home = tempHome("c2l-trayd-");
  cleanups.push(() => removeHome(home));
  // systemctl that finds no user manager, so a developer's real unit is never touched
  mkdirSync(join(home, "bin"));
  writeFileSync(join(home, "bin/systemctl"), "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n", { mode: 0o755 });
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = probe.port;
  probe.stop(true);
  const config = join(home, "custom.toml");
  writeFileSync(config, `[api]\nlisten = "127.0.0.1:${port}"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n`);

  const env: Record<string, string> = { ...homeEnv(home), PATH: `${join(home, "bin")}:${process.env.PATH}`, DBUS_SESSION_BUS_ADDRESS: bus.address };
  // A desktop session's environment, without the runtime settings the unit would give the daemon.
  for (const k of Object.keys(RUNTIME_ENV)) delete env[k];
  const tray = spawnTray(config, env);
  cleanups.push(() => tray.stop());
  const name = await until(() => watcher.stub.items[0], 15_000, `registration (tray: ${tray.stderr()})`);
  const client = dbus.sessionBus({ busAddress: bus.address });
  cleanups.push(() => client.disconnect());
  const props = (await client.getProxyObject(name, "/StatusNotifierItem")).getInterface("org.freedesktop.DBus.Properties");
  const icon = async () => ((await props.Get!("org.kde.StatusNotifierItem", "IconName")) as { value: string }).value;
  await until(async () => (await icon()) === "cloudtolocalllm-tunnel-offline", 10_000, "offline icon");

  const menu = (await client.getProxyObject(name, "/MenuBar")).getInterface("com.canonical.dbusmenu");
  const [, layout] = (await menu.GetLayout!(0, -1, ["label"])) as [number, [number, unknown, { value: [number, Record<string, { value: string }>] }[]]];
  const start = layout[2].map((c) => c.value).find((c) => c[1].label?.value === "Start daemon")!;
  await menu.Event!(start[0], "clicked", new dbus.Variant("s", ""), 0);
  const pid = Number((await until(() => /started the daemon as a detached process pid=(\d+)/.exec(tray.stderr()), 10_000, `the spawn (tray: ${tray.stderr()})`))[1]);
  cleanups.push(() => {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  });
  // the tray retries at once after Start daemon and follows the new daemon
  await until(async () => (await icon()) === "cloudtolocalllm-tunnel-good", 30_000, `good icon (tray: ${tray.stderr()})`);
  const status = (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  expect(status).toBe(200);
  // The daemon the tray started runs with them all the same (src/core/runtime-tuning.ts: the DNS cache's 5 s among them).
  const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  for (const [k, v] of Object.entries(RUNTIME_ENV)) expect(environ).toContain(`${k}=${v}`);

  // Before: the detached daemon's stdout and stderr went to /dev/null.
  const logFile = join(home, ".local/state/cloudtolocalllm/daemon.log");
  expect(tray.stderr()).toContain(`started the daemon as a detached process pid=${pid} log=${logFile}`);
  await until(() => existsSync(logFile) && /api: .*listening/.test(readFileSync(logFile, "utf8")), 10_000, "the daemon's lines in its log file");
  const lines = readFileSync(logFile, "utf8").trim().split("\n");
  // A file is neither the journal nor a terminal: plain lines with an ISO time.
  for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) [\w.-]+: /);
  expect(lines.some((l) => l.includes(`daemon: started`) && l.includes(`pid=${pid}`))).toBe(true);
  const [, after] = (await menu.GetLayout!(0, -1, ["label", "visible"])) as [number, [number, unknown, { value: [number, Record<string, { value: unknown }>] }[]]];
  const openLog = after[2].map((c) => c.value).find((c) => c[1].label?.value === "Open daemon log");
  expect(openLog).toBeDefined();
  expect(openLog![1].visible?.value ?? true).toBe(true); // dbusmenu leaves out visible=true, the default

  const doctor = Bun.spawn([BUN, join(REPO, "src/main.ts"), "doctor", "--json", "--config", config], { env, stdout: "pipe", stderr: "pipe" });
  const checks = JSON.parse(await new Response(doctor.stdout).text()).checks as { name: string; detail: string }[];
  expect(checks.find((c) => c.name === "Daemon log")?.detail).toBe(`${logFile} (written by the daemon the \`tray\` command started)`);
}, 60_000);

test("a daemon that stops at once (its port taken): the tray's menu says so and names the log, which holds the reason", async () => {
  const bus = await startPrivateBus();
  cleanups.push(() => bus.stop());
  const watcher = await startWatcher(bus.address);
  cleanups.push(() => watcher.stop());
  const home = tempHome("c2l-trayd-");
  cleanups.push(() => removeHome(home));
  mkdirSync(join(home, "bin"));
  writeFileSync(join(home, "bin/systemctl"), "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n", { mode: 0o755 });
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
  cleanups.push(() => holder.stop(true));
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const apiPort = probe.port;
  probe.stop(true);
  const config = join(home, "custom.toml");
  writeFileSync(config, `[api]\nlisten = "127.0.0.1:${apiPort}"\n[proxy]\nlisten = "127.0.0.1:${holder.port}"\n[secrets]\nbackend = "file"\n`);
  // A log left readable by others from before (by hand, or a copy): the start makes it private, not only a new one.
  const logFile = join(home, ".local/state/cloudtolocalllm/daemon.log");
  mkdirSync(join(home, ".local/state/cloudtolocalllm"), { recursive: true });
  writeFileSync(logFile, "an earlier run\n");
  chmodSync(logFile, 0o644);

  const env = { ...homeEnv(home), PATH: `${join(home, "bin")}:${process.env.PATH}`, DBUS_SESSION_BUS_ADDRESS: bus.address };
  const tray = spawnTray(config, env);
  cleanups.push(() => tray.stop());
  const name = await until(() => watcher.stub.items[0], 15_000, `registration (tray: ${tray.stderr()})`);
  const client = dbus.sessionBus({ busAddress: bus.address });
  cleanups.push(() => client.disconnect());
  const menu = (await client.getProxyObject(name, "/MenuBar")).getInterface("com.canonical.dbusmenu");
  type Layout = [number, [number, unknown, { value: [number, Record<string, { value: unknown }>] }[]]];
  const labels = async () => ((await menu.GetLayout!(0, -1, ["label"])) as Layout)[1][2].map((c) => c.value);
  const start = (await until(async () => (await labels()).find((c) => c[1].label?.value === "Start daemon"), 10_000, "the Start daemon item"))!;
  await menu.Event!(start[0], "clicked", new dbus.Variant("s", ""), 0);
  // Before: the daemon's reason went to /dev/null and the tray went on "connecting" with nothing to show.
  const warning = await until(async () => (await labels()).map((c) => String(c[1].label?.value ?? "")).find((l) => l.startsWith("⚠ Start daemon:")), 15_000, `the failed start in the menu (tray: ${tray.stderr()})`);
  expect(warning).toBe(`⚠ Start daemon: the daemon exited (code 1); see ${logFile}`);
  expect(readFileSync(logFile, "utf8")).toContain(`the broker cannot listen on 127.0.0.1:${holder.port} ([proxy] listen)`);
  expect(readFileSync(logFile, "utf8")).toStartWith("an earlier run\n");
  expect(statSync(logFile).mode & 0o777).toBe(0o600);
  // doctor, asked why nothing answers, points at the same file.
  const doctor = Bun.spawn([BUN, join(REPO, "src/main.ts"), "doctor", "--json", "--config", config], { env, stdout: "pipe", stderr: "pipe" });
  const checks = JSON.parse(await new Response(doctor.stdout).text()).checks as { name: string; level: string; fix?: string }[];
  expect(checks.find((c) => c.name === "Daemon")).toMatchObject({ level: "warn", fix: expect.stringContaining(`why the last one the \`tray\` command started stopped: ${logFile}`) });
}, 60_000);

// No panel yet: the tray waits quietly (one log line), registers when a watcher appears, and again after each panel restart.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTray, type Tray } from "../../tray/main.ts";
import { setLogSink } from "../../src/core/log.ts";
import { homeEnv, removeHome, tempHome } from "../helpers/daemon.ts";
import { ownPortsToml } from "../helpers/own-ports.ts";
import { spawnTray, startPrivateBus, startWatcher, until, type PrivateBus } from "./private-bus.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["dbus-daemon"]);

let bus: PrivateBus;
let tray: Tray;
let home: string;
const lines: string[] = [];

beforeAll(async () => {
  bus = await startPrivateBus();
  home = tempHome("c2l-trayw-");
  setLogSink((l) => lines.push(l));
  tray = await startTray({
    configFile: join(home, "none.toml"),
    busAddress: bus.address,
    apiBase: "http://127.0.0.1:9", // nothing listens: the tray shows "daemon not running"
    backoff: { initialMs: 5000, maxMs: 5000 },
    iconRoot: join(home, "icons"),
    open: async () => {},
  });
}, 60_000);

afterAll(async () => {
  await tray?.quit();
  setLogSink((line) => process.stderr.write(line + "\n"));
  await bus?.stop();
  removeHome(home);
}, 30_000);

test("waits quietly without a watcher, then registers with each new one", async () => {
  expect(tray.registration.count()).toBe(0);
  expect(lines.filter((l) => l.includes("no StatusNotifierWatcher")).length).toBe(1);
  let w = await startWatcher(bus.address);
  await until(() => w.stub.items.includes(tray.busName), 5000, "registration");
  for (let i = 0; i < 2; i++) {
    w.stop();
    await Bun.sleep(100);
    w = await startWatcher(bus.address);
    await until(() => w.stub.items.includes(tray.busName), 5000, `re-registration ${i + 1}`);
  }
  w.stop();
  expect(tray.registration.count()).toBe(3);
  expect(lines.filter((l) => l.includes("no StatusNotifierWatcher")).length).toBe(1);
  await until(() => tray.view().state === "offline", 6000, "offline after the first failed attempt");
}, 30_000);

test("the tray exits (code 1) when the session bus goes away", async () => {
  const own = await startPrivateBus();
  // A config of its own whose API port nothing listens on: without one the tray follows the default 127.0.0.1:8765,
  // where the user's own daemon (`npm start`) may be running.
  const config = join(home, "closed.toml");
  writeFileSync(config, ownPortsToml());
  const t = spawnTray(config, { ...homeEnv(home), DBUS_SESSION_BUS_ADDRESS: own.address });
  await until(() => t.stderr().includes("no StatusNotifierWatcher"), 10_000, "the tray to start");
  await own.stop();
  const code = await Promise.race([t.proc.exited, Bun.sleep(15_000).then(() => "still running")]);
  if (code === "still running") await t.stop();
  expect(code).toBe(1);
  expect(t.stderr()).toContain("lost the session bus");
}, 30_000);

// Records which bytecode an idle daemon and an idle relay run into packaging/bytecode-order.txt, which
// packaging/build.ts passes to --bytecode-order. Rerun after large changes: `bun scripts/bytecode-order.ts`.
//
// What is recorded is what idle runs, nothing that a first request loads: a relay with one agent connected, and that
// agent, the daemon, with its tunnel connected, health checks and (when dbus-daemon is installed) its tray on a private
// session bus with a StatusNotifierWatcher, for 12 s. Laid out first, that bytecode sits in fewer of the executable's
// pages (docs/performance.md, Footprint, change 11). The two profiles are merged, the daemon's first.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, BYTECODE_ORDER } from "../packaging/build.ts";
import { removeHome, startDaemon, tempHome } from "../tests/helpers/daemon.ts";
import { spawnLogged } from "../tests/helpers/process.ts";
import { AGENT_TOKEN, daemonToml, relayToml } from "../tests/tunnel/helpers.ts";
import { RUNTIME_ENV } from "../src/core/runtime-tuning.ts";
import { spawnListening } from "../bench/lib/proc.ts";
import { mergeBytecodeOrders } from "./bytecode-order-merge.ts";

const ROOT = resolve(import.meta.dir, "..");
const home = tempHome("c2l-bytecode-order-");
const cleanups: (() => unknown)[] = [];
try {
  const bin = join(home, "cloudtolocalllm-tunnel");
  await build({ outfile: bin, quiet: true, bytecodeOrder: false });
  const relayOut = join(home, "relay-order.txt");
  const daemonOut = join(home, "daemon-order.txt");

  const fake = await spawnListening([process.execPath, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
  cleanups.push(() => fake.proc.kill());
  const fakeUrl = fake.url;

  const relayConfig = join(home, "relay.toml");
  writeFileSync(relayConfig, relayToml().replace(/\[heartbeat\][^[]*/, ""), { mode: 0o600 });
  const relay = spawnLogged([bin, "relay", "--config", relayConfig], { env: { ...RUNTIME_ENV, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, BUN_BYTECODE_ORDER_OUT: relayOut }, cwd: home, label: "relay", debugEnv: "DEBUG_RELAY" });
  cleanups.push(() => relay.stop());
  const relayUrl = /url=(\S+)/.exec(await relay.waitFor(/relay: .*listening.* url=/))![1]!;

  const busEnv: Record<string, string> = {};
  if (Bun.which("dbus-daemon")) {
    const { startPrivateBus, startWatcher } = await import("../tests/desktop/private-bus.ts");
    const bus = await startPrivateBus();
    cleanups.push(() => bus.stop());
    const watcher = await startWatcher(bus.address);
    cleanups.push(() => watcher.stop());
    busEnv.DBUS_SESSION_BUS_ADDRESS = bus.address;
  } else console.warn("no dbus-daemon: the profile has no tray in it");

  const toml = daemonToml({ upstream: fakeUrl, relayUrl: `${relayUrl.replace(/^http/, "ws")}/agent`, tunnel: "[logging]\nrequests = false\n", heartbeat: ["10s", "30s"], backoff: ["1s", "60s"] });
  const d = await startDaemon({ binary: bin, config: toml, env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN, BUN_BYTECODE_ORDER_OUT: daemonOut, ...busEnv }, waitFor: ["api", "broker"] });
  cleanups.push(() => removeHome(d.home));
  await d.waitFor(/tunnel: connected to the relay/, 15_000);
  await Bun.sleep(12_000); // a health check and a heartbeat or two
  await d.stop();
  await relay.stop();

  const text = mergeBytecodeOrders([readFileSync(daemonOut, "utf8"), readFileSync(relayOut, "utf8")]);
  writeFileSync(BYTECODE_ORDER, text);
  console.log(`wrote ${BYTECODE_ORDER} (${text.split("\n").length} lines)`);
} finally {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  removeHome(home);
}
process.exit(0);

// What an idle daemon and an idle relay load: none of what serves the first request of a kind (the control API's Elysia
// app and Swagger, prom-client, OIDC, the keyring client, notifications); the first such request loads it. Nor TypeBox:
// a valid config is checked by the generated checks; TypeBox loads only to name what is wrong in an invalid one.
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { REPO, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { LOADED_MODULES_FILE } from "../helpers/loaded-modules.ts";
import { cleanup, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { until } from "../helpers/until.ts";
import { formatIssue, parseConfig } from "../../src/config/load.ts";
import { parseRelayConfig } from "../../src/relay/config.ts";

const PRELOAD = ["--preload", join(REPO, "tests/helpers/loaded-modules.ts")];
/**
 * Loaded by the first request that needs them, never at start-up: Elysia (the app, and the type system the shared
 * schemas are written in), TypeBox, Swagger, prom-client, OIDC, the keyring client, notifications.
 */
const LAZY = ["elysia/", "@sinclair/typebox", "@elysiajs/swagger", "swagger-ui-dist", "prom-client", "openid-client", "jose/", "dbus-next", "node-notifier"];
const lazyIn = (paths: string[], names = LAZY) => names.filter((n) => paths.some((p) => p.includes(`node_modules/${n}`)));

let d: DaemonProc | null = null;
let r: RelayProc | null = null;
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
  await r?.stop();
  if (r) cleanup(r.dir);
});

/** The paths of the modules the process has loaded, asked through the preload's signal. */
async function loaded(pid: number, file: string): Promise<string[]> {
  rmSync(file, { force: true });
  process.kill(pid, "SIGUSR2");
  await until(() => existsSync(file), 5000);
  await Bun.sleep(50);
  return JSON.parse(readFileSync(file, "utf8")) as string[];
}

test("an idle daemon has loaded none of the API, TypeBox, metrics, OIDC, keyring or notification packages, nor started the optimising JIT; the first API request loads the API, then Swagger", async () => {
  d = await startDaemon({
    // The file backend: the keyring client must not load for a store it does not use.
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`,
    bunArgs: PRELOAD,
    // JavaScriptCore names each function its optimising JIT (the DFG) compiles: nothing should be hot at start-up.
    env: { BUN_JSC_reportDFGCompileTimes: "1" },
    waitFor: ["api", "broker"],
  });
  const file = join(d.home, LOADED_MODULES_FILE);
  {
    await Bun.sleep(500);
    // Start-up ran nothing hot enough for the DFG, whose compiler's pages (about 3 MiB) an idle daemon would otherwise
    // carry (docs/performance.md, Footprint): TypeBox's validators were, config defaults and histogram walks could be.
    // Read before the probe below: listing require.cache walks Bun's own builtins often enough to be compiled.
    const compiled = d.stderr().split("\n").filter((l) => /using DFG/.test(l));
    const idle = await loaded(d.proc.pid, file);
    expect(lazyIn(idle)).toEqual([]);
    expect(compiled).toEqual([]);
    const res = await fetch(`${d.urls.api}/healthz`);
    expect(res.status).toBe(200);
    const metrics = await fetch(`${d.urls.api}/metrics`);
    expect(await metrics.text()).toContain("c2l_queue_length 0");
    expect(lazyIn(await loaded(d.proc.pid, file), ["elysia/dist/index.", "prom-client"])).toEqual(["elysia/dist/index.", "prom-client"]);
    // Swagger, which the app loads a moment after it is made, joins the routes it serves; asked for before it is in,
    // it answers once it is (README: a newcomer opens /swagger first), not with a 404.
    const docs = await fetch(`${d.urls.api}/swagger/json`);
    expect(docs.status).toBe(200);
  }
}, 60_000);

test("an idle relay has loaded neither prom-client, jose, Elysia nor TypeBox", async () => {
  r = await startRelayProc(relayToml(), undefined, PRELOAD);
  await Bun.sleep(500);
  const idle = await loaded(r.proc.pid, join(r.dir, LOADED_MODULES_FILE));
  expect(lazyIn(idle, ["prom-client", "jose/", "elysia/", "@sinclair/typebox"])).toEqual([]);
}, 60_000);

test("an invalid config loads TypeBox to say what is wrong, as before (the relay's and the daemon's)", () => {
  const relay = parseRelayConfig("listen = 5\n[limits]\nmax_streams = 0\n");
  expect(relay.ok ? [] : relay.issues.map(formatIssue)).toEqual(["relay.toml:1:1: listen: expected a string, got 5", "relay.toml:3:1: limits.max_streams: 0 is below the minimum 1"]);
  const daemon = parseConfig('[proxy]\nqueue_timeout = "soon"\n', "t.toml");
  expect(daemon.ok ? [] : daemon.issues.map(formatIssue)).toEqual(['t.toml:2:1: proxy.queue_timeout: "soon" is not a duration (use e.g. 250ms, 30s, 5m, 1h)']);
});

// A burst of saves and SIGHUPs (a script or sync tool rewriting the config 100 times a second): one final state, and no
// watch, health-check loop or upstream of an earlier version left behind.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

setDefaultTimeout(30_000);

// Every health check names the config version it belongs to in its path: one left running after a reload shows up.
const hits: string[] = [];
const upstream = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const path = new URL(req.url).pathname;
    hits.push(path);
    if (path.endsWith("/api/tags")) return Response.json({ models: [{ name: "m:latest", model: "m:latest" }] });
    if (path.endsWith("/api/version")) return Response.json({ version: "0.6.0" });
    return Response.json({ models: [] });
  },
});
afterAll(() => upstream.stop(true));

const config = (v: number) => `${TEST_DAEMON_TOML}[health]\ninterval = "1s"\ndown_interval = "1s"\n[[upstreams]]\nname = "u"\nurl = "http://127.0.0.1:${upstream.port}/v${v}"\n`;

/** The inotify watches the daemon holds (one per watched directory), from its inotify descriptors' fdinfo. */
function watches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).includes("inotify")) n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8").split("\n").filter((l) => l.startsWith("inotify wd:")).length;
    } catch {}
  }
  return n;
}

test("100 saves in a second, then 30 SIGHUP reloads: the last text runs, with one health loop and as many watches as before", async () => {
  const d = await startDaemon({ config: config(0) });
  try {
    await d.waitFor(/daemon: started/);
    const token = await apiToken(d);
    const before = watches(d.proc.pid);
    for (let v = 1; v <= 100; v++) {
      // Half in place, half renamed over (an editor's save): each keeps the watch busy in its own way.
      if (v % 2) writeFileSync(d.configFile, config(v));
      else {
        writeFileSync(`${d.configFile}.tmp`, config(v));
        renameSync(`${d.configFile}.tmp`, d.configFile);
      }
      await Bun.sleep(10);
    }
    // Each SIGHUP applies its own version: 30 whole rebuilds of the upstream in a row.
    for (let v = 101; v <= 130; v++) {
      writeFileSync(d.configFile, config(v));
      d.proc.kill("SIGHUP");
      await Bun.sleep(5);
    }
    const url = async () =>
      ((await (await fetch(`${d.urls.api}/api/v1/config`, { headers: { authorization: `Bearer ${token}` } })).json()) as { config: { upstreams: { url: string }[] } }).config.upstreams[0]!.url;
    await until(async () => (await url()).endsWith("/v130"), 10_000, "the last version to run");
    // A check of a retired upstream already under way may still land; none may start after it.
    await Bun.sleep(1500);
    hits.length = 0;
    await Bun.sleep(2500);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.filter((p) => !p.startsWith("/v130/"))).toEqual([]);
    expect(watches(d.proc.pid)).toBe(before);
    expect(d.count(/configuration rejected/)).toBe(0);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
});

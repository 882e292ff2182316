// Where a request's CPU time goes: runs the broker (or the relay and the agent daemon) under Bun's CPU profiler while
// wrk loads it, and keeps the top of each profile (functions by samples) in bench/results/profile-<what>.md.
//
//   bun bench/profile.ts broker|tunnel [--seconds S] [--connections N]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { removeHome, startDaemon } from "../tests/helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc } from "../tests/tunnel/helpers.ts";
import { startStaticUpstream } from "./lib/peers.ts";
import { pin, spawnListening } from "./lib/proc.ts";
import { topBySamples } from "./lib/profile-md.ts";
import { wrk } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const what = process.argv[2];
const seconds = Number(process.argv[process.argv.indexOf("--seconds") + 1] || 6) || 6;
// The tunnel at one connection (`--connections 1`) is where each request wakes both processes from idle.
const connections = process.argv.includes("--connections") ? Number(process.argv[process.argv.indexOf("--connections") + 1]) : 16;
if (what !== "broker" && what !== "tunnel") throw new Error("usage: bun bench/profile.ts broker|tunnel [--seconds S]");
const SMALL_BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });
const dirs: Record<string, string> = {};
const prof = (name: string) => ["--cpu-prof-md", `--cpu-prof-dir=${(dirs[name] = mkdtempSync(join(tmpdir(), `c2l-prof-${name}-`)))}`];

function top(name: string, rows = 30): string {
  const file = readdirSync(dirs[name]!).find((f) => f.endsWith(".md"));
  if (!file) throw new Error(`no profile written for ${name}`);
  const text = readFileSync(join(dirs[name]!, file), "utf8");
  rmSync(dirs[name]!, { recursive: true, force: true });
  return topBySamples(text, ROOT, rows);
}

const out: string[] = [`# CPU profile: ${what} under wrk (${seconds} s), ${new Date().toISOString()}`, ""];
if (what === "broker") {
  const upstream = await startStaticUpstream();
  pin(upstream.pid, 0);
  const d = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "static"\nurl = "${upstream.url}"\n`, waitFor: ["api", "broker"], bunArgs: prof("daemon") });
  pin(d.proc.pid, 1);
  await Bun.sleep(1500);
  const w = await wrk(`${d.urls.broker}/api/generate`, SMALL_BODY, { connections: 32, durationSec: seconds });
  await d.stop();
  await upstream.stop();
  removeHome(d.home);
  out.push(`${w.requests} requests (${w.rps.toFixed(0)}/s).`, "", "## daemon (broker)", "", top("daemon"));
} else {
  const fake = await spawnListening([process.execPath, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
  pin(fake.proc.pid, 0);
  const relay = await startRelayProc(relayToml(), undefined, prof("relay"));
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "[logging]\nrequests = false\n", heartbeat: ["10s", "15s"] }), {}, true, prof("agent"));
  pin(relay.proc.pid, 1);
  pin(daemon.proc.pid, 1);
  const w = await wrk(`${relay.url}/t/${TUNNEL_ID}/api/generate`, SMALL_BODY, { connections, durationSec: seconds, headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  await daemon.stop();
  await relay.stop();
  fake.proc.kill();
  cleanup(relay.dir);
  removeHome(daemon.home);
  out.push(`${w.requests} requests (${w.rps.toFixed(0)}/s) at ${connections} connection(s).`, "", "## relay", "", top("relay"), "", "## agent daemon", "", top("agent"));
}
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, `bench/results/profile-${what}.md`), out.join("\n") + "\n");
console.log(out.join("\n"));

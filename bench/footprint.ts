// Benchmark: the footprint figures of issue 27, each beside its floor, in one run (docs/performance.md, "Footprint").
//   bun bench/footprint.ts [--quick] [--only idle,tunnel,streams,tail,cpu]
//
// (i) idle memory after 10 s: the compiled daemon (health checks on, the tunnel connected; on a private session bus with
//     a StatusNotifierWatcher when dbus-daemon is there), the compiled relay with that agent connected, and a bare
//     compiled Bun server; RSS split into the executable's pages and anonymous memory.
// (t) the tunnel path (compiled relay + daemon) under 16 connections and a 100 MB upload, beside `ssh -R` (sshd + ssh):
//     peak RSS (and each phase's own peak per process: VmHWM reset before it, anonymous memory sampled), and RSS a
//     minute after the load against the idle figure before it.
// (s) the broker (compiled daemon) after 200 concurrent generate streams, beside the minimal Bun.serve proxy and nginx
//     under the same streams: peak RSS, and RSS a minute after.
// (l) the broker's tail: added p50/p99 at 1000 req/s and p99 on one connection, pinned alone on CPU 1 with the static
//     upstream and the load on CPU 0, beside the minimal Bun.serve proxy and nginx in the same interleaved rounds.
// (c) idle CPU over 5 minutes (share of one core) and wake-ups per second (context switches of all threads): the daemon
//     with health checks and the tunnel connected, the relay, a bare compiled Bun server, and `ssh -R` at rest.
// --quick shortens every phase (20 MB upload, 10 s after the load, 20 s of idle CPU) for development.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureBinary } from "../tests/helpers/binary.ts";
import { removeHome, startDaemon, tempHome, type DaemonProc } from "../tests/helpers/daemon.ts";
import { spawnLogged, type LoggedProc } from "../tests/helpers/process.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, daemonToml, generatedBody, relayToml } from "../tests/tunnel/helpers.ts";
import { RUNTIME_ENV } from "../src/core/runtime-tuning.ts";
import { fixedRateLatencies } from "./lib/fixed-rate.ts";
import { startNginx } from "./lib/nginx.ts";
import { startNginxProxy, startStaticUpstream } from "./lib/peers.ts";
import { pin, spawnListening, treeCpuMs, treeMem } from "./lib/proc.ts";
import { startSshTunnel } from "./lib/ssh-tunnel.ts";
import { median, pct } from "./lib/stats.ts";
import { wrk } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const args = Bun.argv.slice(2);
const QUICK = args.includes("--quick");
const ONLY = args.includes("--only") ? args[args.indexOf("--only") + 1]!.split(",") : ["idle", "tunnel", "streams", "tail", "cpu"];
const P = QUICK
  ? { idleSec: 10, wrkSec: 3, uploadMb: 20, afterSec: 10, streams: 200, tokens: 20, tailRounds: 1, rateSec: 3, oneSec: 2, cpuSec: 20 }
  : { idleSec: 10, wrkSec: 6, uploadMb: 100, afterSec: 60, streams: 200, tokens: 40, tailRounds: 3, rateSec: 6, oneSec: 4, cpuSec: 300 };
/** --env K=V (repeatable): set for our compiled processes only, to compare JavaScriptCore settings side by side. */
const EXTRA_ENV: Record<string, string> = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === "--env" ? [a.split("=") as [string, string]] : [])));
const LOAD_CPU = 0;
const SUBJECT_CPU = 1;
const SMALL_BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });

interface Mem {
  rss: number;
  pss: number;
  anon: number;
  file: number;
}
/** Resident memory in MiB, from /proc: RSS, PSS, and RSS split into anonymous memory and pages of files (the executable). */
function mem(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? 0) / 1024;
  const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) / 1024;
  return { rss: kb("VmRSS"), pss, anon: kb("RssAnon"), file: kb("RssFile") };
}

/** Context switches of every thread of a process tree so far: how often it woke up. */
function wakeups(pid: number): number {
  let n = 0;
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    try {
      for (const t of readdirSync(`/proc/${tree[i]}/task`)) {
        const s = readFileSync(`/proc/${tree[i]}/task/${t}/status`, "utf8");
        n += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
        tree.push(...readFileSync(`/proc/${tree[i]}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
      }
    } catch {}
  }
  return n;
}

/**
 * Runs `fn` and returns each process's peak over it: VmHWM reset first (`clear_refs` 5, our own children), and RSS,
 * anonymous memory and the executable's pages sampled every 50 ms (the peak of RSS and its split at that moment).
 */
async function phasePeaks<K extends string>(pids: Record<K, number>, fn: () => Promise<unknown>): Promise<Record<K, Mem & { hwm: number }>> {
  const keys = Object.keys(pids) as K[];
  for (const k of keys) {
    try {
      writeFileSync(`/proc/${pids[k]}/clear_refs`, "5");
    } catch {}
  }
  const top = Object.fromEntries(keys.map((k) => [k, { rss: 0, pss: 0, anon: 0, file: 0, hwm: 0 }])) as Record<K, Mem & { hwm: number }>;
  const sample = () => {
    for (const k of keys) {
      const m = mem(pids[k]);
      if (m.rss > top[k].rss) Object.assign(top[k], m);
    }
  };
  const every = setInterval(sample, 50);
  try {
    await fn();
  } finally {
    clearInterval(every);
  }
  sample();
  for (const k of keys) top[k].hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pids[k]}/status`, "utf8"))?.[1] ?? 0) / 1024;
  return top;
}

const f1 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? "–" : n.toFixed(1));
const f2 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? "–" : n.toFixed(2));

/** The compiled relay, with its config in a temporary directory. */
async function startCompiledRelay(bin: string): Promise<LoggedProc & { url: string; dir: string }> {
  const dir = tempHome("c2l-bench-relay-");
  const configFile = join(dir, "relay.toml");
  // The default heartbeat (the agent's is the one that counts for idle CPU), not the tests' short one.
  writeFileSync(configFile, relayToml().replace(/\[heartbeat\][^[]*/, ""), { mode: 0o600 });
  const p = spawnLogged([bin, "relay", "--config", configFile], { env: { ...RUNTIME_ENV, ...EXTRA_ENV, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir }, cwd: dir, label: "relay", debugEnv: "DEBUG_RELAY" });
  const line = await p.waitFor(/relay: .*listening.* url=/);
  return { ...p, url: /url=(\S+)/.exec(line)![1]!, dir };
}

/** The compiled daemon with the tunnel on, connected to `relayUrl`; default heartbeat and health-check intervals. */
async function startCompiledAgent(bin: string, upstream: string, relayUrl: string, env: Record<string, string> = {}): Promise<DaemonProc> {
  const toml = daemonToml({ upstream, relayUrl: `${relayUrl.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true\n[logging]\nrequests = false\n", heartbeat: ["10s", "30s"], backoff: ["1s", "60s"] });
  const d = await startDaemon({ binary: bin, config: toml, env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN, ...EXTRA_ENV, ...env }, waitFor: ["api", "broker"] });
  await d.waitFor(/tunnel: connected to the relay/, 15_000);
  return d;
}

async function untilModels(base: string, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}/api/tags`, { headers }).catch(() => null);
    if (r?.ok && ((await r.json()) as { models: unknown[] }).models.length) return;
    await Bun.sleep(100);
  }
  throw new Error(`${base}: no models listed`);
}

/** A bare compiled Bun server (the floor of every idle figure), built into `dir`. */
function compileBare(dir: string): string {
  const src = join(dir, "bare.ts");
  writeFileSync(src, `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ok" }) }); console.error("bare listening url=http://127.0.0.1:" + s.port);\n`);
  const out = join(dir, "bare");
  const built = Bun.spawnSync([BUN, "build", "--compile", src, "--outfile", out], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`building the bare server failed: ${built.stderr}`);
  return out;
}

async function upload(url: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(`${url}/api/blobs/sha256:${"0".repeat(64)}`, { method: "POST", body: generatedBody(P.uploadMb * 1024 * 1024), headers, duplex: "half" } as RequestInit);
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`${url}: upload answered ${res.status}`);
}

/** wrk's small generate POSTs on the load CPU. */
async function load(url: string, connections: number, seconds: number, headers: Record<string, string> = {}) {
  const w = await wrk(`${url}/api/generate`, SMALL_BODY, { connections, durationSec: seconds, cpu: LOAD_CPU, headers });
  if (w.errors) throw new Error(`${url}: wrk saw ${w.errors} errors`);
  return w;
}

type Figures = Record<string, number>;
const F: Figures = {};
const notes: string[] = [];

// ---------------------------------------------------------------- (i) idle memory
async function idle(bin: string): Promise<void> {
  const work = tempHome("c2l-bench-footprint-");
  const fake = await spawnListening(["taskset", "-c", String(LOAD_CPU), BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
  const relay = await startCompiledRelay(bin);
  // On a session bus with a StatusNotifierWatcher when there is one: the desktop's case (the tray's work, when the
  // daemon has it, is in the figure).
  let busEnv: Record<string, string> = {};
  let stopBus = async () => {};
  if (Bun.which("dbus-daemon")) {
    const { startPrivateBus, startWatcher } = await import("../tests/desktop/private-bus.ts");
    const bus = await startPrivateBus();
    const watcher = await startWatcher(bus.address);
    busEnv = { DBUS_SESSION_BUS_ADDRESS: bus.address };
    stopBus = async () => {
      watcher.stop();
      await bus.stop();
    };
  } else notes.push("no dbus-daemon: the idle daemon ran without a session bus");
  const daemon = await startCompiledAgent(bin, fake.url, relay.url, busEnv);
  const bare = Bun.spawn([compileBare(work)], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  try {
    await Bun.sleep(P.idleSec * 1000);
    const d = mem(daemon.proc.pid);
    const r = mem(relay.proc.pid);
    const b = mem(bare.pid);
    Object.assign(F, { idleDaemon: d.rss, idleDaemonAnon: d.anon, idleDaemonFile: d.file, idleRelay: r.rss, idleRelayAnon: r.anon, idleRelayFile: r.file, idleBare: b.rss, idleBareAnon: b.anon, idleBareFile: b.file });
  } finally {
    bare.kill();
    await daemon.stop();
    await relay.stop();
    fake.proc.kill();
    await stopBus();
    removeHome(daemon.home);
    removeHome(relay.dir);
    removeHome(work);
  }
}

// ---------------------------------------------------------------- (t) the tunnel path under load, and after it
async function tunnel(bin: string): Promise<void> {
  const fake = await spawnListening(["taskset", "-c", String(LOAD_CPU), BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
  const relay = await startCompiledRelay(bin);
  const daemon = await startCompiledAgent(bin, fake.url, relay.url);
  const ssh = await startSshTunnel(new URL(daemon.urls.broker!).host);
  const tunnelUrl = `${relay.url}/t/${TUNNEL_ID}`;
  const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
  try {
    for (const p of [relay.proc.pid, daemon.proc.pid, ssh.sshd.pid, ssh.ssh.pid]) pin(p, SUBJECT_CPU);
    await untilModels(tunnelUrl, auth);
    await Bun.sleep(2000);
    const restMem = { relay: mem(relay.proc.pid), daemon: mem(daemon.proc.pid) };
    const rest = { relay: restMem.relay.rss, daemon: restMem.daemon.rss, ssh: treeMem(ssh.sshd.pid).rss + treeMem(ssh.ssh.pid).rss };
    const ours = { relay: relay.proc.pid, daemon: daemon.proc.pid };
    // Each phase's own peak per process (VmHWM reset before it), so the figure says which phase and which side makes it.
    const phases = {
      conns: await phasePeaks(ours, () => load(tunnelUrl, 16, P.wrkSec, auth)),
      settle: await phasePeaks(ours, () => Bun.sleep(3000)),
      upload: await phasePeaks(ours, () => upload(tunnelUrl, auth)),
    };
    // The same daemon's broker under the same load arriving through `ssh -R` instead: what the tunnel's side adds.
    const viaSsh = await phasePeaks(ours, () => load(ssh.url, 16, P.wrkSec));
    F.sshConnsDaemonHwm = viaSsh.daemon.hwm;
    F.sshConnsDaemonAnon = viaSsh.daemon.anon;
    F.sshConnsDaemonFile = viaSsh.daemon.file;
    await upload(ssh.url, {});
    for (const [phase, m] of Object.entries(phases)) {
      for (const side of ["relay", "daemon"] as const) {
        const key = `tunnel${phase[0]!.toUpperCase()}${phase.slice(1)}${side === "relay" ? "Relay" : "Daemon"}`;
        F[`${key}Hwm`] = m[side].hwm;
        F[`${key}Anon`] = m[side].anon;
        F[`${key}File`] = m[side].file;
      }
    }
    F.tunnelRest = rest.relay + rest.daemon;
    F.tunnelPeakRelay = Math.max(...Object.values(phases).map((m) => m.relay.hwm));
    F.tunnelPeakDaemon = Math.max(...Object.values(phases).map((m) => m.daemon.hwm));
    F.tunnelPeak = F.tunnelPeakRelay + F.tunnelPeakDaemon;
    F.sshRest = rest.ssh;
    F.sshPeak = treeMem(ssh.sshd.pid).peak + treeMem(ssh.ssh.pid).peak;
    await Bun.sleep(P.afterSec * 1000);
    const after = { relay: mem(relay.proc.pid), daemon: mem(daemon.proc.pid) };
    F.tunnelAfterRelay = after.relay.rss - rest.relay;
    F.tunnelAfterDaemon = after.daemon.rss - rest.daemon;
    F.tunnelAfterRelayAnon = after.relay.anon - restMem.relay.anon;
    F.tunnelAfterDaemonAnon = after.daemon.anon - restMem.daemon.anon;
    F.sshAfter = treeMem(ssh.sshd.pid).rss + treeMem(ssh.ssh.pid).rss - rest.ssh;
  } finally {
    await ssh.stop();
    await daemon.stop();
    await relay.stop();
    fake.proc.kill();
    removeHome(daemon.home);
    removeHome(relay.dir);
  }
}

// ---------------------------------------------------------------- (s) the broker after 200 concurrent streams
async function streams(bin: string): Promise<void> {
  // Streams that last about a second each (tokens × delay), so all of them are open at once.
  const fake = await spawnListening(["taskset", "-c", String(LOAD_CPU), BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", String(P.tokens), "--delay-ms", "25", "--models", "bench:latest"]);
  const daemon = await startDaemon({ binary: bin, env: EXTRA_ENV, config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "fake"\nurl = "${fake.url}"\n`, waitFor: ["api", "broker"] });
  const minimal = await spawnListening([BUN, join(ROOT, "bench/lib/minimal-proxy.ts"), "--front", "serve", "--upstream", fake.url], RUNTIME_ENV);
  // This nginx sends the upstream's own Host (the fake, like Ollama, refuses others).
  const nginx = await startNginx(fake.url);
  const subjects = [
    { key: "broker", url: daemon.urls.broker!, pid: daemon.proc.pid },
    { key: "minimal", url: minimal.url, pid: minimal.proc.pid },
    { key: "nginx", url: nginx.url, pid: nginx.pid },
  ];
  try {
    await untilModels(daemon.urls.broker!);
    await Bun.sleep(2000);
    for (const s of subjects) {
      const rest = treeMem(s.pid).rss;
      const p = Bun.spawn(["taskset", "-c", String(LOAD_CPU), BUN, join(ROOT, "bench/lib/stream-load.ts"), "--url", s.url, "--streams", String(P.streams), "--tokens", String(P.tokens), "--rounds", "2"], { stdout: "pipe", stderr: "inherit" });
      const out = JSON.parse((await new Response(p.stdout).text()).trim().split("\n").at(-1)!) as { errors: number };
      if (out.errors) notes.push(`${s.key}: ${out.errors} of ${P.streams * 2} streams failed`);
      F[`${s.key}StreamsPeak`] = treeMem(s.pid).peak;
      F[`${s.key}StreamsRest`] = rest;
    }
    await Bun.sleep(P.afterSec * 1000);
    for (const s of subjects) F[`${s.key}StreamsAfter`] = treeMem(s.pid).rss - F[`${s.key}StreamsRest`]!;
  } finally {
    await daemon.stop();
    minimal.proc.kill();
    await nginx.stop();
    fake.proc.kill();
    removeHome(daemon.home);
  }
}

// ---------------------------------------------------------------- (l) the broker's tail
async function tail(bin: string): Promise<void> {
  const upstream = await startStaticUpstream();
  pin(upstream.pid, LOAD_CPU);
  const daemon = await startDaemon({ binary: bin, env: EXTRA_ENV, config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "static"\nurl = "${upstream.url}"\n`, waitFor: ["api", "broker"] });
  const minimal = await spawnListening([BUN, join(ROOT, "bench/lib/minimal-proxy.ts"), "--front", "serve", "--upstream", upstream.url], RUNTIME_ENV);
  const nginx = await startNginxProxy(upstream.url);
  const subjects = [
    { key: "broker", url: daemon.urls.broker!, pid: daemon.proc.pid },
    { key: "minimal", url: minimal.url, pid: minimal.proc.pid },
    { key: "nginx", url: nginx.url, pid: nginx.pid },
  ];
  const lat: Record<string, number[][]> = { broker: [], minimal: [], nginx: [] };
  const one: Record<string, number[]> = { broker: [], minimal: [], nginx: [] };
  const direct: number[][] = [];
  try {
    await untilModels(daemon.urls.broker!);
    for (const s of subjects) {
      pin(s.pid, SUBJECT_CPU);
      await load(s.url, 32, QUICK ? 2 : 5);
    }
    const openLoop = (url: string) => fixedRateLatencies(`${url}/api/version`, { rate: 1000, seconds: P.rateSec, warmup: 1, cpu: LOAD_CPU });
    for (let r = 0; r < P.tailRounds; r++) {
      direct.push(await openLoop(upstream.url));
      for (const s of subjects) {
        lat[s.key]!.push(await openLoop(s.url));
        one[s.key]!.push((await load(s.url, 1, P.oneSec)).p99Ms);
      }
    }
    for (const s of subjects) {
      F[`${s.key}AddedP50`] = median(lat[s.key]!.map((l, i) => pct(l, 50) - pct(direct[i]!, 50)));
      F[`${s.key}AddedP99`] = median(lat[s.key]!.map((l, i) => pct(l, 99) - pct(direct[i]!, 99)));
      F[`${s.key}OneP99`] = median(one[s.key]!);
    }
  } finally {
    await daemon.stop();
    minimal.proc.kill();
    await nginx.stop();
    await upstream.stop();
    removeHome(daemon.home);
  }
}

// ---------------------------------------------------------------- (c) idle CPU and wake-ups
async function cpu(bin: string): Promise<void> {
  const work = tempHome("c2l-bench-footprint-");
  const fake = await spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
  const relay = await startCompiledRelay(bin);
  const daemon = await startCompiledAgent(bin, fake.url, relay.url);
  const ssh = await startSshTunnel(new URL(daemon.urls.broker!).host);
  const bare = Bun.spawn([compileBare(work)], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const subjects = { daemon: daemon.proc.pid, relay: relay.proc.pid, bare: bare.pid, sshd: ssh.sshd.pid, ssh: ssh.ssh.pid };
  try {
    await Bun.sleep(3000);
    const cpu0 = Object.fromEntries(Object.entries(subjects).map(([k, p]) => [k, treeCpuMs(p)]));
    const wake0 = Object.fromEntries(Object.entries(subjects).map(([k, p]) => [k, wakeups(p)]));
    const t0 = performance.now();
    await Bun.sleep(P.cpuSec * 1000);
    const sec = (performance.now() - t0) / 1000;
    for (const [k, p] of Object.entries(subjects)) {
      F[`${k}IdleCpu`] = ((treeCpuMs(p) - cpu0[k]!) / 1000 / sec) * 100;
      F[`${k}IdleWake`] = (wakeups(p) - wake0[k]!) / sec;
    }
  } finally {
    bare.kill();
    await ssh.stop();
    await daemon.stop();
    await relay.stop();
    fake.proc.kill();
    removeHome(daemon.home);
    removeHome(relay.dir);
    removeHome(work);
  }
}

const bin = await ensureBinary();
const SECTIONS: [string, (bin: string) => Promise<void>][] = [
  ["idle", idle],
  ["tunnel", tunnel],
  ["streams", streams],
  ["tail", tail],
  ["cpu", cpu],
];
for (const [name, run] of SECTIONS) {
  if (!ONLY.includes(name)) continue;
  console.error(`== footprint: ${name}`);
  await run(bin);
}

const met = (v: number | undefined, limit: number) => (v === undefined ? "" : v <= limit ? "met" : "**missed**");
const rows: string[][] = [];
const row = (measure: string, ours: string, floor: string, target: string, verdict: string) => rows.push([measure, ours, floor, target, verdict]);
if (F.idleDaemon !== undefined) {
  const bare = `bare compiled Bun server ${f1(F.idleBare)} (${f1(F.idleBareFile)} + ${f1(F.idleBareAnon)})`;
  row("daemon idle RSS, MiB (compiled, 10 s; health checks, tunnel connected) — executable pages + anonymous", `${f1(F.idleDaemon)} (${f1(F.idleDaemonFile)} + ${f1(F.idleDaemonAnon)})`, bare, "≤ 50", met(F.idleDaemon, 50));
  row("relay idle RSS, MiB (compiled, 10 s; one agent connected)", `${f1(F.idleRelay)} (${f1(F.idleRelayFile)} + ${f1(F.idleRelayAnon)})`, bare, "≤ 40", met(F.idleRelay, 40));
}
if (F.tunnelPeak !== undefined) {
  row(`tunnel peak RSS, MiB (relay + daemon; 16 connections, then a ${P.uploadMb} MB upload)`, `${f1(F.tunnelPeak)} (${f1(F.tunnelPeakRelay)} + ${f1(F.tunnelPeakDaemon)}); ${f1(F.tunnelRest)} at rest`, `\`ssh -R\` (sshd + ssh) ${f1(F.sshPeak)}; ${f1(F.sshRest)} at rest`, "≤ 150", met(F.tunnelPeak, 150));
  for (const [phase, label] of [["Conns", "16 connections"], ["Settle", "3 s after them"], ["Upload", `the ${P.uploadMb} MB upload`]] as const) {
    const side = (s: "Relay" | "Daemon") => `${f1(F[`tunnel${phase}${s}Hwm`])} (${f1(F[`tunnel${phase}${s}File`])} + ${f1(F[`tunnel${phase}${s}Anon`])})`;
    row(`— peak during ${label}, MiB (relay; daemon) — executable pages + anonymous at the sampled top`, `${side("Relay")}; ${side("Daemon")}`, "", "", "");
  }
  row("— the daemon's peak under the same 16 connections through `ssh -R` (its broker alone), MiB", `${f1(F.sshConnsDaemonHwm)} (${f1(F.sshConnsDaemonFile)} + ${f1(F.sshConnsDaemonAnon)})`, "", "", "");
  row(`tunnel RSS ${P.afterSec} s after the load, over rest, MiB (relay; daemon)`, `+${f1(F.tunnelAfterRelay)}; +${f1(F.tunnelAfterDaemon)} (anonymous +${f1(F.tunnelAfterRelayAnon)}; +${f1(F.tunnelAfterDaemonAnon)})`, `\`ssh -R\` +${f1(F.sshAfter)}`, "each ≤ +10", met(Math.max(F.tunnelAfterRelay!, F.tunnelAfterDaemon!), 10));
}
if (F.brokerStreamsPeak !== undefined) {
  row(`broker peak RSS after ${P.streams} concurrent streams (two rounds), MiB`, `${f1(F.brokerStreamsPeak)}; ${f1(F.brokerStreamsRest)} at rest`, `minimal Bun proxy ${f1(F.minimalStreamsPeak)} · nginx ${f1(F.nginxStreamsPeak)}`, "≤ 100", met(F.brokerStreamsPeak, 100));
  row(`broker RSS ${P.afterSec} s after the streams, over rest, MiB`, `+${f1(F.brokerStreamsAfter)}`, `minimal Bun proxy +${f1(F.minimalStreamsAfter)} · nginx +${f1(F.nginxStreamsAfter)}`, "≤ +10", met(F.brokerStreamsAfter, 10));
}
if (F.brokerAddedP99 !== undefined) {
  row("broker added p50 at 1000 req/s, ms", f2(F.brokerAddedP50), `minimal Bun proxy ${f2(F.minimalAddedP50)} · nginx ${f2(F.nginxAddedP50)}`, "", "");
  row("broker added p99 at 1000 req/s, ms", f2(F.brokerAddedP99), `minimal Bun proxy ${f2(F.minimalAddedP99)} · nginx ${f2(F.nginxAddedP99)}`, "≤ 1.0", met(F.brokerAddedP99, 1));
  row("broker p99 on one connection, ms", f2(F.brokerOneP99), `minimal Bun proxy ${f2(F.minimalOneP99)} · nginx ${f2(F.nginxOneP99)}`, "≤ 1.0", met(F.brokerOneP99, 1));
}
if (F.daemonIdleCpu !== undefined) {
  row(`daemon idle CPU, % of a core over ${P.cpuSec} s (health checks, tunnel connected); wake-ups/s`, `${F.daemonIdleCpu.toFixed(3)} %; ${f1(F.daemonIdleWake)}`, `bare compiled Bun server ${F.bareIdleCpu!.toFixed(3)} %; ${f1(F.bareIdleWake)}`, "≤ 0.1 %", met(F.daemonIdleCpu, 0.1));
  row(`relay idle CPU (one agent connected); wake-ups/s`, `${F.relayIdleCpu!.toFixed(3)} %; ${f1(F.relayIdleWake)}`, `sshd + ssh at rest ${(F.sshdIdleCpu! + F.sshIdleCpu!).toFixed(3)} %; ${f1(F.sshdIdleWake! + F.sshIdleWake!)}`, "", "");
}
const md = [
  `Footprint: each figure beside its floor in the same run${QUICK ? " (--quick: shorter phases, judge with a full run)" : ""}. Compiled binary (\`dist/cloudtolocalllm-tunnel\`); memory from /proc (RSS; executable pages and anonymous memory from RssFile and RssAnon); the tail pinned as in \`bench/broker-tail.ts\` (${P.tailRounds} interleaved rounds, medians); CPU from /proc/PID/stat (10 ms ticks), wake-ups as context switches of all threads.`,
  "",
  "| measure | ours | floor, same run | target | |",
  "|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.join(" | ")} |`),
  "",
  ...(notes.length ? [notes.map((n) => `Note: ${n}.`).join(" "), ""] : []),
  ...(Object.keys(EXTRA_ENV).length ? [`With ${Object.entries(EXTRA_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} for our processes.`, ""] : []),
  `Run ${new Date().toISOString()}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs, load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} at the end.`,
].join("\n");
console.log(md);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
if (!QUICK && ONLY.length === SECTIONS.length) writeFileSync(join(ROOT, "bench/results/footprint.md"), md + "\n");
process.exit(0);

// Benchmark: the per-request cost of the tunnel and the broker, and the idle footprint, against the best peers, in one run.
//
//   bun bench/hot-paths.ts [--quick] [--save-before] [--only tunnel,broker,idle] [--before COMMIT] [--rounds N]
//
// The subject (relay + daemon, sshd + ssh, a proxy) runs pinned alone on CPU 1; the load generator and the upstream on
// CPU 0. CPU per request is the subject's process tree's user + system time (/proc/PID/stat) over the requests served.
// (t) tunnel, 16 connections of small generate requests (wrk): relay + daemon vs `ssh -R` (sshd + ssh, forwarding to
//     the same daemon's broker); req/s, CPU µs per request, peak RSS; one connection's p50 over the daemon's own (the
//     latency each path adds); a 100 MB upload's MB/s.
// (b) broker in front of a static upstream (nginx answering fixed ~400-byte JSON) vs HAProxy (http-no-delay), nginx and
//     Caddy in front of it: 32 connections (wrk) req/s and CPU per request, 1 connection p99, and the added p50/p99 at a
//     fixed 1,000 req/s (open loop, no coordinated omission) over the upstream alone.
// (i) idle: the compiled daemon showing its own tray (one process, on a private session bus with a watcher), and a bare
//     compiled Bun server, after 10 s: RSS and PSS (bench/footprint.ts measures it with the tunnel connected too).
// --before COMMIT also runs that commit's relay and daemon (git archive) in the same interleaved rounds of (t), so "before"
// is measured beside "now" on the same machine at the same moment (other work on the CPUs moves both alike).
// Writes bench/results/hot-paths.md; --save-before also keeps this run's own figures in bench/results/hot-paths-before.json,
// which later runs show beside theirs ("before").
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ensureBinary } from "../tests/helpers/binary.ts";
import { homeEnv, removeHome, startDaemon, tempHome } from "../tests/helpers/daemon.ts";
import { oldRelease } from "../tests/helpers/old-release.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, generatedBody, relayToml, startAgentDaemon, startRelayProc } from "../tests/tunnel/helpers.ts";
import { startStaticUpstream, startCaddyProxy, startHaproxyProxy, startNginxProxy, type Peer } from "./lib/peers.ts";
import { fixedRateLatencies } from "./lib/fixed-rate.ts";
import { freePort, pin, spawnListening, treeCpuMs, treeMem } from "./lib/proc.ts";
import { startSshTunnel } from "./lib/ssh-tunnel.ts";
import { median, pct } from "./lib/stats.ts";
import { parseWrk, type WrkResult } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const P = quick
  ? { rounds: 1, wrkSec: 3, oneSec: 2, rate: 1000, rateSec: 3, uploadMb: 20, idleSec: 5 }
  : { rounds: 2, wrkSec: 6, oneSec: 4, rate: 1000, rateSec: 6, uploadMb: 100, idleSec: 10 };
// More interleaved rounds when the machine is busy (medians steady with more of them).
if (args.includes("--rounds")) P.rounds = Number(args[args.indexOf("--rounds") + 1]) || P.rounds;
const SMALL_BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });
const LOAD_CPU = 0;
const SUBJECT_CPU = 1;
const BEFORE_FILE = join(ROOT, "bench/results/hot-paths-before.json");
const BEFORE_COMMIT = args.includes("--before") ? args[args.indexOf("--before") + 1]! : null;
/** --env K=V (repeatable): set for this tree's relay and daemon only, so `--before HEAD --env …` weighs a runtime setting
 * against the same code without it in the same interleaved rounds. */
const EXTRA_ENV: Record<string, string> = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === "--env" ? [a.split("=") as [string, string]] : [])));

/** wrk on the load CPU; the POST body from a Lua script. */
async function wrkRun(url: string, connections: number, seconds: number, headers: Record<string, string> = {}): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-wrk-"));
  try {
    const script = join(dir, "post.lua");
    const extra = Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join("");
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(SMALL_BODY)}\nwrk.headers["Content-Type"] = "application/json"\n${extra}`);
    const p = Bun.spawn(["taskset", "-c", String(LOAD_CPU), "wrk", "-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, url], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    if ((await p.exited) !== 0) throw new Error(`wrk failed: ${await new Response(p.stderr).text()}`);
    return parseWrk(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** wrk plus the subject's CPU over the run: µs per request. */
async function measured(url: string, pids: number[], connections: number, seconds: number, headers?: Record<string, string>) {
  const cpu0 = pids.reduce((a, p) => a + treeCpuMs(p), 0);
  const w = await wrkRun(url, connections, seconds, headers);
  const cpu = pids.reduce((a, p) => a + treeCpuMs(p), 0) - cpu0;
  if (w.errors) throw new Error(`${url}: wrk saw ${w.errors} errors`);
  return { ...w, cpuUs: (cpu * 1000) / Math.max(1, w.requests) };
}

/** Fixed-rate GETs (a separate process on the load CPU): latencies in ms. */
const openLoop = (url: string, headers: string[] = []) => fixedRateLatencies(url, { rate: P.rate, seconds: P.rateSec, warmup: 1, cpu: LOAD_CPU, headers });

async function upload(url: string, headers: Record<string, string>): Promise<number> {
  const total = P.uploadMb * 1024 * 1024;
  const t0 = performance.now();
  const res = await fetch(`${url}/api/blobs/sha256:${"0".repeat(64)}`, { method: "POST", body: generatedBody(total), headers, duplex: "half" } as RequestInit);
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`${url}: upload answered ${res.status}`);
  return total / 1024 / 1024 / ((performance.now() - t0) / 1000);
}

type Figures = Record<string, number>;
const ours: Figures = {};
const peers: Figures = {};

// ---------------------------------------------------------------- (t) tunnel vs ssh -R
/** The tests' relay, with a rate limit no number of rounds reaches (16 connections run ~500k requests a minute). */
const benchRelayToml = () => relayToml().replace("requests_per_minute = 100000", "requests_per_minute = 100000000");

async function tunnel(): Promise<void> {
  const fake = await spawnListening(["taskset", "-c", String(LOAD_CPU), BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
  const relay = await startRelayProc(benchRelayToml(), undefined, [], undefined, EXTRA_ENV);
  const daemon = await startAgentDaemon(
    daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true\n[logging]\nrequests = false\n", heartbeat: ["10s", "15s"], backoff: ["1s", "60s"] }),
    EXTRA_ENV,
  );
  const ssh = await startSshTunnel(new URL(daemon.urls.broker!).host);
  for (const p of [relay.proc.pid, daemon.proc.pid, ssh.sshd.pid, ssh.ssh.pid]) pin(p, SUBJECT_CPU);
  // The same pair from an earlier commit (--before), idle on the subject CPU while the others run.
  const old = BEFORE_COMMIT ? oldRelease(BEFORE_COMMIT) : null;
  const oldRelay = old ? await startRelayProc(benchRelayToml(), undefined, [], old.main) : null;
  const oldDaemon =
    old && oldRelay
      ? await startDaemon({
          binary: old.binary,
          config: daemonToml({ upstream: fake.url, relayUrl: `${oldRelay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true\n[logging]\nrequests = false\n", heartbeat: ["10s", "15s"], backoff: ["1s", "60s"] }),
          env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
        })
      : null;
  if (oldRelay && oldDaemon) {
    await oldDaemon.waitFor(/tunnel: connected to the relay/, 15_000);
    for (const p of [oldRelay.proc.pid, oldDaemon.proc.pid]) pin(p, SUBJECT_CPU);
  }
  const oldUrl = oldRelay ? `${oldRelay.url}/t/${TUNNEL_ID}` : "";
  const tunnelUrl = `${relay.url}/t/${TUNNEL_ID}`;
  const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
  try {
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`${tunnelUrl}/api/tags`, { headers: auth });
      if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
      await Bun.sleep(100);
    }
    // At rest, before any load: the floor under the peak (each process's modules and heap with nothing to do).
    ours.tunnelRestMiB = treeMem(relay.proc.pid).rss + treeMem(daemon.proc.pid).rss;
    peers.tunnelRestMiB = treeMem(ssh.sshd.pid).rss + treeMem(ssh.ssh.pid).rss;
    // Warm until the JIT settles: for its first seconds under load each Bun process's compiler threads spend 20–50 µs
    // per request on the subject's core (bench/tunnel-one-conn.ts), a one-time cost that made round 1 of the
    // one-connection rows a measure of compilation. ssh's path gets the same warm-up.
    await wrkRun(`${tunnelUrl}/api/generate`, 16, quick ? 1 : 5, auth);
    await wrkRun(`${tunnelUrl}/api/generate`, 1, quick ? 1 : 3, auth);
    await wrkRun(`${ssh.url}/api/generate`, 16, quick ? 1 : 5);
    await wrkRun(`${ssh.url}/api/generate`, 1, quick ? 1 : 3);
    // sshd forks per connection: pin again so the session's processes run on the subject CPU too.
    pin(ssh.sshd.pid, SUBJECT_CPU);
    const t: { rps: number[]; cpu: number[]; daemon: number[]; one: number[] } = { rps: [], cpu: [], daemon: [], one: [] };
    const s: { rps: number[]; cpu: number[]; daemon: number[]; one: number[] } = { rps: [], cpu: [], daemon: [], one: [] };
    const o: { rps: number[]; cpu: number[]; one: number[] } = { rps: [], cpu: [], one: [] };
    const direct: number[] = [];
    if (oldRelay && oldDaemon) {
      await wrkRun(`${oldUrl}/api/generate`, 16, quick ? 1 : 5, auth);
      await wrkRun(`${oldUrl}/api/generate`, 1, quick ? 1 : 3, auth);
    }
    const runOld = async () => {
      if (!oldRelay || !oldDaemon) return;
      o.one.push((await wrkRun(`${oldUrl}/api/generate`, 1, P.oneSec, auth)).p50Ms);
      const c = await measured(`${oldUrl}/api/generate`, [oldRelay.proc.pid, oldDaemon.proc.pid], 16, P.wrkSec, auth);
      o.rps.push(c.rps);
      o.cpu.push(c.cpuUs);
    };
    for (let r = 0; r < P.rounds; r++) {
      // The earlier commit first in even rounds, last in odd ones: neither side always follows the other.
      if (r % 2 === 0) await runOld();
      // One connection, one request at a time: the latency each path adds to the daemon's own (interleaved, medians).
      direct.push((await wrkRun(`${daemon.urls.broker}/api/generate`, 1, P.oneSec)).p50Ms);
      t.one.push((await wrkRun(`${tunnelUrl}/api/generate`, 1, P.oneSec, auth)).p50Ms);
      s.one.push((await wrkRun(`${ssh.url}/api/generate`, 1, P.oneSec)).p50Ms);
      const d0 = treeCpuMs(daemon.proc.pid);
      const a = await measured(`${tunnelUrl}/api/generate`, [relay.proc.pid, daemon.proc.pid], 16, P.wrkSec, auth);
      t.rps.push(a.rps);
      t.cpu.push(a.cpuUs);
      t.daemon.push(((treeCpuMs(daemon.proc.pid) - d0) * 1000) / a.requests);
      const d1 = treeCpuMs(daemon.proc.pid);
      const b = await measured(`${ssh.url}/api/generate`, [ssh.sshd.pid, ssh.ssh.pid], 16, P.wrkSec);
      s.rps.push(b.rps);
      s.cpu.push(b.cpuUs);
      s.daemon.push(((treeCpuMs(daemon.proc.pid) - d1) * 1000) / b.requests);
      if (r % 2 === 1) await runOld();
    }
    ours.tunnelOneConnAddedMs = median(t.one) - median(direct);
    peers.tunnelOneConnAddedMs = median(s.one) - median(direct);
    ours.tunnelOneConnP50 = median(t.one);
    peers.tunnelOneConnP50 = median(s.one);
    if (o.rps.length) {
      ours.beforeRps = median(o.rps);
      ours.beforeCpuUs = median(o.cpu);
      ours.beforeOneConnAddedMs = median(o.one) - median(direct);
    }
    ours.tunnelRps = median(t.rps);
    peers.tunnelRps = median(s.rps);
    ours.tunnelCpuUs = median(t.cpu);
    peers.tunnelCpuUs = median(s.cpu);
    ours.tunnelDaemonCpuUs = median(t.daemon);
    peers.tunnelDaemonCpuUs = median(s.daemon);
    // Interleaved rounds, medians: one upload each swings by 10 % on this machine.
    const up: { t: number[]; s: number[]; o: number[] } = { t: [], s: [], o: [] };
    for (let r = 0; r < P.rounds + 1; r++) {
      // The order reversed every round: the first upload after the rounds' load meets their garbage.
      const runs: (() => Promise<void>)[] = [async () => void up.t.push(await upload(tunnelUrl, auth)), async () => void up.s.push(await upload(ssh.url, {}))];
      if (oldRelay && oldDaemon) runs.push(async () => void up.o.push(await upload(oldUrl, auth)));
      for (const run of r % 2 === 0 ? runs : runs.toReversed()) await run();
    }
    if (up.o.length) ours.beforeUploadMBs = median(up.o);
    ours.tunnelUploadMBs = median(up.t);
    peers.tunnelUploadMBs = median(up.s);
    ours.tunnelPeakMiB = treeMem(relay.proc.pid).peak + treeMem(daemon.proc.pid).peak;
    peers.tunnelPeakMiB = treeMem(ssh.sshd.pid).peak + treeMem(ssh.ssh.pid).peak;
  } finally {
    await ssh.stop();
    await oldDaemon?.stop();
    await oldRelay?.stop();
    if (oldRelay) cleanup(oldRelay.dir);
    if (oldDaemon) removeHome(oldDaemon.home);
    if (old) cleanup(old.dir);
    await daemon.stop();
    await relay.stop();
    fake.proc.kill();
    cleanup(relay.dir);
    removeHome(daemon.home);
  }
}

// ---------------------------------------------------------------- (b) broker vs HAProxy, nginx, Caddy
async function broker(): Promise<void> {
  const upstream = await startStaticUpstream();
  pin(upstream.pid, LOAD_CPU);
  const daemon = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "static"\nurl = "${upstream.url}"\n`, waitFor: ["api", "broker"] });
  const subjects: Peer[] = [{ name: "broker", url: daemon.urls.broker!, pid: daemon.proc.pid, stop: async () => void (await daemon.stop()) }];
  try {
    for (const start of [startHaproxyProxy, startNginxProxy, startCaddyProxy]) subjects.push(await start(upstream.url));
    for (const x of subjects) pin(x.pid, SUBJECT_CPU);
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`${daemon.urls.broker}/api/tags`);
      if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
      await Bun.sleep(100);
    }
    for (const x of subjects) await wrkRun(`${x.url}/api/generate`, 32, 1);
    const res: Record<string, { rps: number[]; cpu: number[]; one99: number[]; lat: number[] }> = {};
    const direct: number[] = [];
    for (const x of subjects) res[x.name] = { rps: [], cpu: [], one99: [], lat: [] };
    for (let r = 0; r < P.rounds; r++) {
      direct.push(...(await openLoop(`${upstream.url}/api/version`)));
      for (const x of subjects) {
        const w = await measured(`${x.url}/api/generate`, [x.pid], 32, P.wrkSec);
        res[x.name]!.rps.push(w.rps);
        res[x.name]!.cpu.push(w.cpuUs);
        res[x.name]!.one99.push((await wrkRun(`${x.url}/api/generate`, 1, P.oneSec)).p99Ms);
        res[x.name]!.lat.push(...(await openLoop(`${x.url}/api/version`)));
      }
    }
    const added = (name: string, p: number) => pct(res[name]!.lat, p) - pct(direct, p);
    ours.brokerRps = median(res.broker!.rps);
    ours.brokerCpuUs = median(res.broker!.cpu);
    ours.brokerOneConnP99 = median(res.broker!.one99);
    ours.brokerAddedP50 = added("broker", 50);
    ours.brokerAddedP99 = added("broker", 99);
    for (const name of ["HAProxy", "nginx", "Caddy"]) {
      const k = name.toLowerCase();
      peers[`${k}Rps`] = median(res[name]!.rps);
      peers[`${k}CpuUs`] = median(res[name]!.cpu);
      peers[`${k}OneConnP99`] = median(res[name]!.one99);
      peers[`${k}AddedP50`] = added(name, 50);
      peers[`${k}AddedP99`] = added(name, 99);
    }
  } finally {
    for (const x of subjects) await x.stop();
    await upstream.stop();
    removeHome(daemon.home);
  }
}

// ---------------------------------------------------------------- (i) idle footprint
async function idle(): Promise<void> {
  const { startPrivateBus, startWatcher } = await import("../tests/desktop/private-bus.ts");
  const bin = await ensureBinary();
  const home = tempHome("c2l-bench-idle-");
  const env = homeEnv(home);
  const cfg = join(home, ".config/cloudtolocalllm/tunnel.toml");
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  const apiPort = await freePort();
  writeFileSync(cfg, `[api]\nlisten = "127.0.0.1:${apiPort}"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`, { mode: 0o600 });
  const bare = join(home, "bare");
  writeFileSync(join(home, "bare.ts"), `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ok" }) }); console.error("bare listening url=http://127.0.0.1:" + s.port);\n`);
  const compile = (entry: string, out: string) => {
    const built = Bun.spawnSync([BUN, "build", "--compile", entry, "--outfile", out], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
    if (built.exitCode !== 0) throw new Error(`building ${entry} failed: ${built.stderr}`);
  };
  compile(join(home, "bare.ts"), bare);
  // The floor of the control API's kind of work: a compiled Elysia app with one route (bench/lib/idle-floor).
  compile(join(ROOT, "bench/lib/idle-floor/daemon.ts"), join(home, "daemon-floor"));
  const bus = await startPrivateBus();
  const watcher = await startWatcher(bus.address);
  // The desktop's one process: the daemon shows the tray itself when a session bus with a watcher is there.
  const daemon = Bun.spawn([bin, "serve"], { env: { ...env, DBUS_SESSION_BUS_ADDRESS: bus.address }, cwd: home, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const bareProc = Bun.spawn([bare], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const daemonFloor = Bun.spawn([join(home, "daemon-floor")], { env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  try {
    await Bun.sleep(P.idleSec * 1000);
    if (!watcher.stub.items.length) throw new Error(`the daemon did not register its tray item: ${daemon.exitCode === null ? "" : await new Response(daemon.stderr).text()}`);
    if (daemonFloor.exitCode !== null) throw new Error(`the daemon floor exited: ${await new Response(daemonFloor.stderr).text()}`);
    const d = treeMem(daemon.pid);
    const b = treeMem(bareProc.pid);
    const df = treeMem(daemonFloor.pid);
    peers.idleDaemonFloorRss = df.rss;
    peers.idleDaemonFloorPss = df.pss;
    ours.idleDaemonRss = d.rss;
    ours.idleDaemonPss = d.pss;
    peers.idleBareRss = b.rss;
    peers.idleBarePss = b.pss;
  } finally {
    daemon.kill();
    bareProc.kill();
    daemonFloor.kill();
    watcher.stop();
    await bus.stop();
    removeHome(home);
  }
}

const only = args.includes("--only") ? args[args.indexOf("--only") + 1]!.split(",") : ["tunnel", "broker", "idle"];
if (only.includes("tunnel")) await tunnel();
if (only.includes("broker")) await broker();
if (only.includes("idle") && !args.includes("--skip-idle")) await idle();

const before: Figures = existsSync(BEFORE_FILE) && !args.includes("--save-before") ? JSON.parse(readFileSync(BEFORE_FILE, "utf8")).ours : {};
const f = (n: number | undefined, d = 0) => (n === undefined || Number.isNaN(n) ? "" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const best = (...xs: [string, number][]) => xs.reduce((a, b) => (b[1] < a[1] ? b : a));
const bestHi = (...xs: [string, number][]) => xs.reduce((a, b) => (b[1] > a[1] ? b : a));
const rows: string[][] = [];
const row = (measure: string, key: string, peerName: string, peer: number, d: number, target: string, r = ratio(ours[key]!, peer)) => rows.push([measure, f(before[key], d), f(ours[key], d), `${peerName} ${f(peer, d)}`, r, target]);
if (ours.tunnelRps !== undefined) {
row("tunnel, 16 connections: req/s", "tunnelRps", "`ssh -R`", peers.tunnelRps!, 0, "≥ 1.0× ssh");
row("tunnel one connection: p50 added to the daemon's own, ms", "tunnelOneConnAddedMs", "`ssh -R`", peers.tunnelOneConnAddedMs!, 3, "≤ 1.0× ssh");
row("  p50 through the tunnel, ms", "tunnelOneConnP50", "`ssh -R`", peers.tunnelOneConnP50!, 3, "");
row("tunnel CPU per request, µs (relay + daemon; sshd + ssh)", "tunnelCpuUs", "sshd + ssh", peers.tunnelCpuUs!, 0, "≤ 2.5× ssh");
row("  of which the daemon, µs (same daemon behind ssh: its broker work)", "tunnelDaemonCpuUs", "daemon behind ssh", peers.tunnelDaemonCpuUs!, 0, "");
row(`tunnel ${P.uploadMb} MB upload, MB/s`, "tunnelUploadMBs", "`ssh -R`", peers.tunnelUploadMBs!, 0, "≥ 1.0× ssh");
row("tunnel peak RSS, MiB (relay + daemon; sshd + ssh)", "tunnelPeakMiB", "sshd + ssh", peers.tunnelPeakMiB!, 0, "≤ 100 MiB");
if (ours.beforeRps !== undefined) {
  row(`  ${BEFORE_COMMIT}'s tunnel, same rounds: req/s`, "beforeRps", "`ssh -R`", peers.tunnelRps!, 0, "");
  row(`  ${BEFORE_COMMIT}'s tunnel: CPU per request, µs`, "beforeCpuUs", "sshd + ssh", peers.tunnelCpuUs!, 0, "");
  row(`  ${BEFORE_COMMIT}'s tunnel: one connection p50 added, ms`, "beforeOneConnAddedMs", "`ssh -R`", peers.tunnelOneConnAddedMs!, 3, "");
  if (ours.beforeUploadMBs !== undefined) row(`  ${BEFORE_COMMIT}'s tunnel: ${P.uploadMb} MB upload, MB/s`, "beforeUploadMBs", "`ssh -R`", peers.tunnelUploadMBs!, 0, "");
}
if (ours.tunnelRestMiB !== undefined) row("  at rest before the load, RSS MiB (from source)", "tunnelRestMiB", "sshd + ssh", peers.tunnelRestMiB!, 0, "");
}
if (ours.brokerRps !== undefined) {
const rpsBest = bestHi(["HAProxy", peers.haproxyRps!], ["nginx", peers.nginxRps!], ["Caddy", peers.caddyRps!]);
row("broker, 32 connections, static upstream: req/s", "brokerRps", `nginx ${f(peers.nginxRps)} · HAProxy ${f(peers.haproxyRps)} · Caddy`, peers.caddyRps!, 0, "≥ 0.7× nginx", ratio(ours.brokerRps!, peers.nginxRps!));
row("broker CPU per request, µs", "brokerCpuUs", `nginx ${f(peers.nginxCpuUs)} · HAProxy ${f(peers.haproxyCpuUs)} · Caddy`, peers.caddyCpuUs!, 0, "≤ 1.6× nginx", ratio(ours.brokerCpuUs!, peers.nginxCpuUs!));
row(`broker added p50 at ${P.rate} req/s, ms`, "brokerAddedP50", `nginx ${f(peers.nginxAddedP50, 2)} · HAProxy ${f(peers.haproxyAddedP50, 2)} · Caddy`, peers.caddyAddedP50!, 2, "", "");
row(`broker added p99 at ${P.rate} req/s, ms`, "brokerAddedP99", `nginx ${f(peers.nginxAddedP99, 2)} · HAProxy ${f(peers.haproxyAddedP99, 2)} · Caddy`, peers.caddyAddedP99!, 2, "≤ 0.8 ms", "");
const oneBest = best(["HAProxy", peers.haproxyOneConnP99!], ["nginx", peers.nginxOneConnP99!], ["Caddy", peers.caddyOneConnP99!]);
row("broker p99 on one connection, ms", "brokerOneConnP99", oneBest[0], oneBest[1], 2, "");
void rpsBest;
}
if (ours.idleDaemonRss !== undefined) {
  row("daemon idle RSS / PSS, MiB (compiled; its tray on a session bus with a watcher)", "idleDaemonRss", `bare compiled Bun server ${f(peers.idleBareRss)} / PSS`, peers.idleBarePss!, 0, "≤ 50 MiB", ratio(ours.idleDaemonRss!, peers.idleBareRss!));
  rows.at(-1)![2] = `${f(ours.idleDaemonRss)} / ${f(ours.idleDaemonPss)}`;
  // The before figures of the earlier layout (a daemon without its tray) are not comparable: not shown.
  rows.at(-1)![1] = "";
  if (peers.idleDaemonFloorRss !== undefined) rows.push(["  floor: compiled Elysia app, one route, listening (RSS / PSS)", "", "", `${f(peers.idleDaemonFloorRss)} / ${f(peers.idleDaemonFloorPss)}`, "", ""]);
}
const beforeNote = existsSync(BEFORE_FILE) ? `"before": ${JSON.parse(readFileSync(BEFORE_FILE, "utf8")).label}.` : "";
const table = [
  `Hot paths${quick ? " (--quick)" : ""}: subject pinned alone on CPU ${SUBJECT_CPU}, load generator and upstream on CPU ${LOAD_CPU}; ${P.rounds} interleaved rounds, medians; wrk ${P.wrkSec} s per subject, fixed rate ${P.rate} req/s for ${P.rateSec} s. ${beforeNote}`,
  "",
  "| measure | before | now | best peer, same run | now / peer | target |",
  "|---|---:|---:|---|---:|---|",
  ...rows.map((r) => `| ${r.join(" | ")} |`),
  "",
  ...(Object.keys(EXTRA_ENV).length ? [`With ${Object.entries(EXTRA_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} for this tree's relay and daemon.`, ""] : []),
  `Run ${new Date().toISOString()}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs. CPU per request: the subject's process tree (/proc/PID/stat, 10 ms ticks) over the requests wrk counted.`,
  "",
].join("\n");
console.log(table);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/hot-paths.md"), table);
if (args.includes("--save-before")) {
  const rev = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
  writeFileSync(BEFORE_FILE, JSON.stringify({ label: `commit ${rev}, ${new Date().toISOString().slice(0, 10)}`, ours, peers }, null, 2) + "\n");
}

// Benchmark: what one tunnel request costs each process at one connection (relay and agent daemon apart), against
// earlier commits in the same interleaved rounds: CPU µs, context switches (wake-ups) and p50 per request.
//
//   bun bench/tunnel-one-conn.ts [--before COMMIT[,COMMIT…]] [--env K=V …] [--rounds N] [--seconds S] [--warm S] [--connections C] [--strace]
//
// Wall-clock latency on a shared machine moves by ±30 % between identical subjects; CPU time and wake-ups per request
// (from /proc, the subject's own) move far less, so a change is judged by them. Each subject (relay + daemon of one
// tree) runs pinned on CPU 1, wrk with one connection on CPU 0, the same small stream:false generate as
// bench/hot-paths.ts. --strace also counts each process's system calls per request (strace -c -f) once per subject.
// --env K=V (repeatable) adds a subject: this tree again with those variables on its relay and daemon, in the same rounds
// (a runtime setting weighed against the same code without it). Minor page faults per request are counted too: memory
// an allocator handed back and takes again costs a fault per page on the request's path.
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { removeHome, startDaemon, type DaemonProc } from "../tests/helpers/daemon.ts";
import { oldRelease } from "../tests/helpers/old-release.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startRelayProc, type RelayProc } from "../tests/tunnel/helpers.ts";
import { pin, processTree, spawnListening, treeCpuMs } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";
import { parseWrk } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const opt = (name: string, d: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : d);
const BEFORE = args.includes("--before") ? opt("--before", "").split(",").filter(Boolean) : [];
const ROUNDS = Number(opt("--rounds", "3"));
const SECONDS = Number(opt("--seconds", "3"));
const STRACE = args.includes("--strace");
/** One connection by default (the latency row); `--connections 16` compares the throughput row's load the same way. */
const CONNECTIONS = Number(opt("--connections", "1"));
const EXTRA_ENV: Record<string, string> = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === "--env" ? [a.split("=") as [string, string]] : [])));
const BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });

/** CPU ms of a process's main thread alone (JIT compiler and GC helper threads left out: they settle as the code warms). */
function mainCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

/** Minor page faults of a process (all its threads). */
function minorFaults(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
  } catch {
    return 0;
  }
}

/** Voluntary + involuntary context switches of every thread of a process tree: each is a wake-up or a preemption. */
function switches(pid: number): number {
  let n = 0;
  for (const p of processTree(pid)) {
    try {
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const s = readFileSync(`/proc/${p}/task/${t}/status`, "utf8");
        n += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0);
      }
    } catch {}
  }
  return n;
}

async function wrk(url: string, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), "c2l-wrk-"));
  try {
    const script = join(dir, "post.lua");
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(BODY)}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${CLIENT_KEY}"\n`);
    const p = Bun.spawn(["taskset", "-c", "0", "wrk", "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-s", script, url], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    if ((await p.exited) !== 0) throw new Error(`wrk failed: ${await new Response(p.stderr).text()}`);
    return parseWrk(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Subject {
  name: string;
  relay: RelayProc;
  daemon: DaemonProc;
  url: string;
  dir?: string;
  rows: { relayUs: number; daemonUs: number; relayMainUs: number; daemonMainUs: number; relaySw: number; daemonSw: number; relayFlt: number; daemonFlt: number; p50: number; rps: number }[];
}

async function subject(name: string, fakeUrl: string, commit?: string, env: Record<string, string> = {}): Promise<Subject> {
  const old = commit ? oldRelease(commit) : null;
  const relay = await startRelayProc(relayToml(), undefined, [], old?.main, env);
  const daemon = await startDaemon({
    ...(old ? { binary: old.binary } : {}),
    config: daemonToml({ upstream: fakeUrl, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "[logging]\nrequests = false\n", heartbeat: ["10s", "15s"], backoff: ["1s", "60s"] }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN, ...env },
  });
  await daemon.waitFor(/tunnel: connected to the relay/, 15_000);
  for (const p of [relay.proc.pid, daemon.proc.pid]) pin(p, 1);
  return { name, relay, daemon, url: `${relay.url}/t/${TUNNEL_ID}/api/generate`, dir: old?.dir, rows: [] };
}

async function round(s: Subject): Promise<void> {
  const r0 = treeCpuMs(s.relay.proc.pid);
  const d0 = treeCpuMs(s.daemon.proc.pid);
  const rm0 = mainCpuMs(s.relay.proc.pid);
  const dm0 = mainCpuMs(s.daemon.proc.pid);
  const rs0 = switches(s.relay.proc.pid);
  const ds0 = switches(s.daemon.proc.pid);
  const rf0 = minorFaults(s.relay.proc.pid);
  const df0 = minorFaults(s.daemon.proc.pid);
  const w = await wrk(s.url, SECONDS);
  if (w.errors) throw new Error(`${s.name}: wrk saw ${w.errors} errors`);
  const n = Math.max(1, w.requests);
  s.rows.push({
    relayUs: ((treeCpuMs(s.relay.proc.pid) - r0) * 1000) / n,
    daemonUs: ((treeCpuMs(s.daemon.proc.pid) - d0) * 1000) / n,
    relayMainUs: ((mainCpuMs(s.relay.proc.pid) - rm0) * 1000) / n,
    daemonMainUs: ((mainCpuMs(s.daemon.proc.pid) - dm0) * 1000) / n,
    relaySw: (switches(s.relay.proc.pid) - rs0) / n,
    daemonSw: (switches(s.daemon.proc.pid) - ds0) / n,
    relayFlt: (minorFaults(s.relay.proc.pid) - rf0) / n,
    daemonFlt: (minorFaults(s.daemon.proc.pid) - df0) / n,
    p50: w.p50Ms,
    rps: w.rps,
  });
}

/** strace -c -f on both processes over one wrk run: system calls per request, by name. */
async function syscalls(s: Subject): Promise<string> {
  const out: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "c2l-strace-"));
  const tracers = [s.relay.proc.pid, s.daemon.proc.pid].map((pid, i) => {
    const file = join(dir, `${i}.txt`);
    return { file, p: Bun.spawn(["strace", "-c", "-f", "-o", file, "-p", String(pid)], { stdout: "ignore", stderr: "ignore" }) };
  });
  await Bun.sleep(500);
  const w = await wrk(s.url, SECONDS);
  for (const t of tracers) t.p.kill("SIGINT");
  await Promise.all(tracers.map((t) => t.p.exited));
  for (const [i, t] of tracers.entries()) {
    const text = readFileSync(t.file, "utf8");
    const calls = [...text.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/gm)].map((m) => [m[2]!, Number(m[1]) / w.requests] as const);
    out.push(`${s.name} ${i ? "daemon" : "relay"}: ${calls.filter(([, c]) => c >= 0.05).map(([n, c]) => `${n} ${c.toFixed(2)}`).join(", ")}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return out.join("\n");
}

const fake = await spawnListening(["taskset", "-c", "0", process.execPath, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
const subjects: Subject[] = [];
try {
  subjects.push(await subject("now", fake.url));
  for (const c of BEFORE) subjects.push(await subject(c, fake.url, c));
  if (Object.keys(EXTRA_ENV).length) subjects.push(await subject(`now ${Object.entries(EXTRA_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}`, fake.url, undefined, EXTRA_ENV));
  // Warm up until the JIT settles (its compiler threads burn 20–50 µs per request for the first seconds).
  for (const s of subjects) await wrk(s.url, Number(opt("--warm", "8")));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [...subjects].reverse() : subjects;
    for (const s of order) await round(s);
  }
  const f = (v: number, d = 0) => v.toFixed(d);
  console.log(`${CONNECTIONS} connection(s), ${ROUNDS} rounds of ${SECONDS} s (medians)`);
  console.log("| subject | relay µs/req (main thread) | daemon µs/req (main thread) | relay switches/req | daemon switches/req | relay faults/req | daemon faults/req | p50 ms | req/s |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const s of subjects) {
    const m = (k: keyof Subject["rows"][number]) => median(s.rows.map((x) => x[k]));
    console.log(`| ${s.name} | ${f(m("relayUs"))} (${f(m("relayMainUs"))}) | ${f(m("daemonUs"))} (${f(m("daemonMainUs"))}) | ${f(m("relaySw"), 2)} | ${f(m("daemonSw"), 2)} | ${f(m("relayFlt"), 2)} | ${f(m("daemonFlt"), 2)} | ${f(m("p50"), 3)} | ${f(m("rps"))} |`);
  }
  if (STRACE) for (const s of subjects) console.log(await syscalls(s));
} finally {
  for (const s of subjects) {
    await s.daemon.stop();
    await s.relay.stop();
    cleanup(s.relay.dir, s.dir);
    removeHome(s.daemon.home);
  }
  fake.proc.kill();
}

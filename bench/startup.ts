// Benchmark: the compiled binary's time from exec to /healthz answering (median of N) and its idle RSS after 10 s, beside a bare `bun -e` HTTP server.
//   bun bench/startup.ts [--runs N] [--idle-s S] [--binary FILE]   (default: dist/cloudtolocalllm-tunnel, rebuilt when stale)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureBinary } from "../tests/helpers/binary.ts";
import { homeEnv, tempHome } from "../tests/helpers/daemon.ts";
import { memMb } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { runs: { type: "string", default: "9" }, "idle-s": { type: "string", default: "10" }, binary: { type: "string" } } });
const RUNS = Number(values.runs);
const IDLE_S = Number(values["idle-s"]);
const TARGET_READY_MS = 150;
const TARGET_RSS_MB = 40;

const home = tempHome("c2l-bench-startup-");
const env = homeEnv(home);
const configFile = join(home, ".config/cloudtolocalllm/tunnel.toml");
mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
// Default config except ephemeral ports (never the real 8765/11435 on a shared machine) and an upstream nobody answers.
writeFileSync(configFile, '[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n', { mode: 0o600 });

const BASELINE = `const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ok" }) }); console.error("baseline: listening url=http://127.0.0.1:" + server.port);`;

interface Candidate {
  name: string;
  cmd: string[];
  /** Component whose "listening url=" line carries the /healthz base URL. */
  listener: string;
}

/** Spawns, waits for the listener's line, GETs /healthz; returns ms from spawn to the answer, and the running process. */
async function startOnce(c: Candidate) {
  const t0 = performance.now();
  const proc = Bun.spawn(c.cmd, { env, cwd: home, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const dec = new TextDecoder();
  let err = "";
  let url: string | null = null;
  for await (const chunk of proc.stderr) {
    err += dec.decode(chunk, { stream: true });
    const m = new RegExp(`${c.listener}: .*listening.* url=(\\S+)`).exec(err);
    if (m) {
      url = m[1]!;
      break;
    }
  }
  if (!url) throw new Error(`${c.name} never listened:\n${err}`);
  const r = await fetch(`${url}/healthz`);
  await r.arrayBuffer();
  const ms = performance.now() - t0;
  const cpu = cpuMs(proc.pid);
  if (r.status !== 200) throw new Error(`${c.name}: /healthz answered ${r.status}`);
  // Keep draining stderr so the process never blocks on a full pipe.
  void (async () => {
    for await (const _ of proc.stderr);
  })().catch(() => {});
  return { ms, cpu, proc };
}

/** Private (anonymous) resident memory in MB; the rest of RSS is pages of the executable itself, clean and shared. */
function anonMb(pid: number): number {
  return Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
}

/** CPU time (user + system) a process has used so far, in ms: steadier than wall time on a busy machine. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
}

const bin = values.binary ? resolve(values.binary) : await ensureBinary();
const candidates: Candidate[] = [
  { name: "bare `bun -e` HTTP server (baseline)", cmd: [process.execPath, "-e", BASELINE], listener: "baseline" },
  { name: "cloudtolocalllm-tunnel (compiled)", cmd: [bin, "serve"], listener: "api" },
];

const results: { name: string; ready: number[]; cpu: number[]; rss: number; anon: number }[] = [];
try {
  for (const c of candidates) {
    const ready: number[] = [];
    const cpu: number[] = [];
    // Interleaving would be fairer on a busy machine, but each run is short; one warm-up run fills the page cache.
    const warm = await startOnce(c);
    warm.proc.kill("SIGTERM");
    await warm.proc.exited;
    for (let i = 0; i < RUNS; i++) {
      const { ms, cpu: used, proc } = await startOnce(c);
      ready.push(ms);
      cpu.push(used);
      proc.kill("SIGTERM");
      await proc.exited;
    }
    results.push({ name: c.name, ready, cpu, rss: NaN, anon: NaN });
  }
  // Idle RSS: both processes side by side, measured after the same idle time.
  const running = await Promise.all(candidates.map((c) => startOnce(c)));
  await Bun.sleep(IDLE_S * 1000);
  running.forEach((r, i) => {
    results[i]!.rss = memMb(r.proc.pid).rss;
    results[i]!.anon = anonMb(r.proc.pid);
  });
  for (const r of running) r.proc.kill("SIGTERM");
  await Promise.all(running.map((r) => r.proc.exited));
} finally {
  rmSync(home, { recursive: true, force: true });
}

const base = results[0]!;
const fmt = (n: number) => n.toFixed(1);
const lines = [
  `## Start-up and idle memory`,
  "",
  `Time from exec to the first \`GET /healthz\` answer (median of ${RUNS} runs after one warm-up; min–max), the CPU time the process used until then`,
  `(user + system, 10 ms resolution; steadier than wall time when the machine is busy), and resident memory after ${IDLE_S} s idle`,
  "(RSS, and in brackets its anonymous part: the rest is pages of the executable file, clean and shared).",
  `Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs, load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} at the end, ${new Date().toISOString().slice(0, 10)}.`,
  "",
  "| Process | Ready (median) | min–max | × baseline | CPU to ready (median) | Idle RSS | × baseline | Target |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ...results.map((r) => {
    const isBase = r === base;
    const target = isBase ? "" : `≤ ${TARGET_READY_MS} ms, ≤ ${TARGET_RSS_MB} MB: ${median(r.ready) <= TARGET_READY_MS ? "met" : "**missed**"} / ${r.rss <= TARGET_RSS_MB ? "met" : "**missed**"}`;
    return `| ${r.name} | ${fmt(median(r.ready))} ms | ${fmt(Math.min(...r.ready))}–${fmt(Math.max(...r.ready))} ms | ${isBase ? "1.00" : (median(r.ready) / median(base.ready)).toFixed(2)} | ${median(r.cpu).toFixed(0)} ms | ${fmt(r.rss)} MB (${fmt(r.anon)}) | ${isBase ? "1.00" : (r.rss / base.rss).toFixed(2)} | ${target} |`;
  }),
  "",
];
const table = lines.join("\n");
console.log(table);
const out = resolve(import.meta.dir, "results/startup.md");
mkdirSync(resolve(import.meta.dir, "results"), { recursive: true });
writeFileSync(out, table);
console.log(`written to ${out}`);
process.exit(0);

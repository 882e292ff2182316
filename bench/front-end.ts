// Benchmark: what the broker's HTTP front end costs, and what a raw-socket front end could save (issue 16, item 4).
//   bun bench/front-end.ts [--quick]
// Side by side in one run, each pinned alone on CPU 1 with wrk and a static nginx upstream on CPU 0, 32 connections:
// the broker; the least a Bun proxy can do behind Bun.serve and behind Bun.listen (bench/lib/minimal-proxy.ts, the same
// upstream pool under both); nginx. CPU µs per request from /proc. Writes bench/results/front-end.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome, startDaemon } from "../tests/helpers/daemon.ts";
import { startNginxProxy, startStaticUpstream, type Peer } from "./lib/peers.ts";
import { pin, spawnListening, treeCpuMs } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";
import { wrk } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const QUICK = Bun.argv.includes("--quick");
const P = QUICK ? { rounds: 1, sec: 3 } : { rounds: 3, sec: 6 };
const SUBJECT_CPU = 1;
const LOAD_CPU = 0;
const BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });

async function measure(p: Peer, sec: number): Promise<{ rps: number; cpuUs: number }> {
  const c0 = treeCpuMs(p.pid);
  const w = await wrk(`${p.url}/api/generate`, BODY, { connections: 32, durationSec: sec, cpu: LOAD_CPU });
  if (w.errors) throw new Error(`${p.name}: wrk saw ${w.errors} errors`);
  return { rps: w.rps, cpuUs: ((treeCpuMs(p.pid) - c0) * 1000) / Math.max(1, w.requests) };
}

async function minimal(front: "serve" | "listen", upstream: string): Promise<Peer> {
  const { proc, url } = await spawnListening([process.execPath, join(ROOT, "bench/lib/minimal-proxy.ts"), "--front", front, "--upstream", upstream]);
  return { name: `Bun.${front} minimal proxy`, url, pid: proc.pid, stop: async () => void proc.kill() };
}

const upstream = await startStaticUpstream();
pin(upstream.pid, LOAD_CPU);
const daemon = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "static"\nurl = "${upstream.url}"\n`, waitFor: ["api", "broker"] });
const subjects: Peer[] = [{ name: "broker (Bun.serve)", url: daemon.urls.broker!, pid: daemon.proc.pid, stop: async () => void (await daemon.stop()) }];
const figures: Record<string, { rps: number[]; cpu: number[] }> = {};
try {
  subjects.push(await minimal("serve", upstream.url), await minimal("listen", upstream.url), await startNginxProxy(upstream.url));
  for (const s of subjects) {
    pin(s.pid, SUBJECT_CPU);
    figures[s.name] = { rps: [], cpu: [] };
    await wrk(`${s.url}/api/generate`, BODY, { connections: 32, durationSec: 1, cpu: LOAD_CPU });
  }
  for (let r = 0; r < P.rounds; r++) {
    for (const s of subjects) {
      const m = await measure(s, P.sec);
      figures[s.name]!.rps.push(m.rps);
      figures[s.name]!.cpu.push(m.cpuUs);
    }
  }
} finally {
  for (const s of subjects) await s.stop();
  await upstream.stop();
  removeHome(daemon.home);
}

const nginx = subjects.at(-1)!.name;
const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const rows = subjects.map((s) => {
  const rps = median(figures[s.name]!.rps);
  const cpu = median(figures[s.name]!.cpu);
  return `| ${s.name} | ${f0(rps)} | ${(rps / median(figures[nginx]!.rps)).toFixed(2)}× | ${cpu.toFixed(0)} | ${(cpu / median(figures[nginx]!.cpu)).toFixed(2)}× |`;
});
const md = [
  `Front end: subject pinned alone on CPU 1, wrk (32 connections, POST /api/generate) and a static nginx upstream on CPU 0; ${P.rounds} interleaved rounds of ${P.sec} s, medians${QUICK ? " (--quick)" : ""}. The two minimal proxies share one upstream pool and differ only in the front end.`,
  "",
  "| subject | req/s | vs nginx | CPU µs per request | vs nginx |",
  "|---|---:|---:|---:|---:|",
  ...rows,
  "",
  `Run ${new Date().toISOString()}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs.`,
].join("\n");
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
if (!QUICK) writeFileSync(join(ROOT, "bench/results/front-end.md"), md + "\n");
console.log(md);

// Benchmark: what makes the broker's tail at a fixed rate, side by side with its GC log (issue 16, item 3).
//   bun bench/broker-tail.ts [--quick]
// Each subject pinned alone on CPU 1 in front of a static nginx upstream (CPU 0), warmed with wrk, then a fixed-rate
// load of GETs (bench/lib/open-loop.ts, CPU 0) while JavaScriptCore logs every collection (BUN_JSC_logGC=1). Subjects:
// the broker; the least a Bun.serve proxy does (bench/lib/minimal-proxy.ts: the runtime's own tail); nginx. Reports the
// added p50/p99/p99.9 over the upstream alone, and the collections of each window: how many, their pauses, and the share
// of requests that arrive inside pauses over 1 ms. Writes bench/results/broker-tail.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome, startDaemon } from "../tests/helpers/daemon.ts";
import { startStaticUpstream } from "./lib/peers.ts";
import { fixedRateLatencies } from "./lib/fixed-rate.ts";
import { startNginxProxy } from "./lib/peers.ts";
import { pin } from "./lib/proc.ts";
import { median, pct } from "./lib/stats.ts";
import { wrk } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const QUICK = Bun.argv.includes("--quick");
const P = QUICK ? { rounds: 1, sec: 4, rate: 1000 } : { rounds: 3, sec: 8, rate: 1000 };

const openLoop = (url: string) => fixedRateLatencies(url, { rate: P.rate, seconds: P.sec, warmup: 1, cpu: 0 });

/** Pauses (ms) and kinds of the collections JSC logged in `text`. */
function collections(text: string): { pauses: number[]; full: number } {
  const pauses: number[] = [];
  let full = 0;
  for (const m of text.matchAll(/=> (\w+Collection).*?p=([0-9.]+)ms/g)) {
    pauses.push(Number(m[2]));
    if (m[1] !== "EdenCollection") full++;
  }
  return { pauses, full };
}

interface Subject {
  name: string;
  url: string;
  pid: number;
  log: () => string;
  stop: () => Promise<void>;
}
type Row = { p50: number; p99: number; p999: number; gcs: number; full: number; pauseP50: number; pauseP90: number; pauseMax: number; over1: number };

const upstream = await startStaticUpstream();
pin(upstream.pid, 0);
const subjects: Subject[] = [];
const rows = new Map<string, Row[]>();
try {
  const daemon = await startDaemon({
    env: { BUN_JSC_logGC: "1" },
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "static"\nurl = "${upstream.url}"\n`,
    waitFor: ["api", "broker"],
  });
  subjects.push({ name: "broker", url: daemon.urls.broker!, pid: daemon.proc.pid, log: () => daemon.stderr(), stop: async () => (await daemon.stop(), removeHome(daemon.home)) });
  // Spawned here rather than with spawnListening(): its stderr carries the GC log.
  const minimalProc = Bun.spawn([process.execPath, join(ROOT, "bench/lib/minimal-proxy.ts"), "--front", "serve", "--upstream", upstream.url], {
    env: { ...process.env, BUN_JSC_logGC: "1", BUN_JSC_numberOfGCMarkers: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let minimalLog = "";
  void (async () => {
    for await (const c of minimalProc.stderr) minimalLog += new TextDecoder().decode(c);
  })();
  const firstLine = (await minimalProc.stdout.getReader().read()).value;
  const minimal = { proc: minimalProc, url: /url=(\S+)/.exec(new TextDecoder().decode(firstLine))![1]! };
  subjects.push({ name: "Bun.serve minimal proxy", url: minimal.url, pid: minimal.proc.pid, log: () => minimalLog, stop: async () => void minimal.proc.kill() });
  const nginx = await startNginxProxy(upstream.url);
  subjects.push({ name: "nginx", url: nginx.url, pid: nginx.pid, log: () => "", stop: nginx.stop });
  for (const x of subjects) {
    pin(x.pid, 1);
    rows.set(x.name, []);
    await wrk(`${x.url}/api/generate`, "{}", { connections: 32, durationSec: QUICK ? 2 : 5, cpu: 0 });
  }
  for (let r = 0; r < P.rounds; r++) {
    const direct = await openLoop(`${upstream.url}/api/version`);
    for (const x of subjects) {
      const logBefore = x.log().length;
      const lat = await openLoop(`${x.url}/api/version`);
      const gc = collections(x.log().slice(logBefore));
      const sorted = [...gc.pauses].sort((a, b) => a - b);
      rows.get(x.name)!.push({
        p50: pct(lat, 50) - pct(direct, 50),
        p99: pct(lat, 99) - pct(direct, 99),
        p999: pct(lat, 99.9) - pct(direct, 99.9),
        gcs: gc.pauses.length,
        full: gc.full,
        pauseP50: sorted[sorted.length >> 1] ?? 0,
        pauseP90: sorted[Math.floor(sorted.length * 0.9)] ?? 0,
        pauseMax: sorted.at(-1) ?? 0,
        // Requests that arrive during pauses over 1 ms, as a share of all: what such pauses can push past the p99.
        over1: (sorted.filter((p) => p > 1).reduce((n, p) => n + p, 0) * P.rate) / 1000 / (P.rate * (P.sec + 1)),
      });
    }
  }
} finally {
  for (const x of subjects) await x.stop();
  await upstream.stop();
}

const line = (name: string, gcLog: boolean) => {
  const rs = rows.get(name)!;
  const m = (k: keyof Row) => median(rs.map((r) => r[k]));
  const gc = gcLog ? `${(m("gcs") / (P.sec + 1)).toFixed(1)} | ${m("full").toFixed(0)} | ${m("pauseP50").toFixed(2)} | ${m("pauseP90").toFixed(2)} | ${m("pauseMax").toFixed(2)} | ${(100 * m("over1")).toFixed(1)} %` : "| | | | | ";
  return `| ${name} | ${m("p50").toFixed(2)} | ${m("p99").toFixed(2)} | ${m("p999").toFixed(2)} | ${gc} |`;
};
const md = [
  `Broker tail at ${P.rate} req/s: each subject pinned alone on CPU 1, static nginx upstream and the fixed-rate GETs on CPU 0, warmed with wrk; ${P.rounds} interleaved rounds of ${P.sec} s, medians${QUICK ? " (--quick)" : ""}. Collections from JavaScriptCore's own log (BUN_JSC_logGC=1) during each round.`,
  "",
  "| subject | added p50, ms | added p99, ms | added p99.9, ms | collections per s | of them full | pause p50, ms | pause p90, ms | pause max, ms | requests arriving inside pauses > 1 ms |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  line("broker", true),
  line("Bun.serve minimal proxy", true),
  line("nginx", false),
  "",
  `Run ${new Date().toISOString()}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs.`,
].join("\n");
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
if (!QUICK) writeFileSync(join(ROOT, "bench/results/broker-tail.md"), md + "\n");
console.log(md);

// Benchmark: the fake Ollama direct, through the broker (a real daemon process) and through nginx, side by side.
//
//   bun bench/broker.ts [--quick] [--rounds N] [--before COMMIT] [--no-streams]
//
// (a) small non-streaming requests at fixed concurrency (wrk): throughput, latency p50/p99, CPU per request; and on one
//     connection (the latency one app sees on an otherwise idle proxy);
// (b) streaming (a separate load process): time to first token and chunks/s, 1 stream and 200 concurrent streams;
// (c) the broker daemon's peak RSS.
// (a) is also run against a second daemon that uses Bun's fetch as its upstream client (CLOUDTOLOCALLLM_BROKER_CLIENT=fetch),
// to show what the HTTP/1.1 client changes.
// With --before COMMIT, the same broker at that commit (run from its tree, lib/before-tree.ts) is a fourth target in every
// interleaved round, so "now / before" (CPU per request above all) compares like with like on a shared machine.
// Prints a markdown table and writes it to bench/results/broker.md. Medians over the rounds.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome, startDaemon } from "../tests/helpers/daemon.ts";
import { beforeArg, beforeTree } from "./lib/before-tree.ts";
import { startNginx } from "./lib/nginx.ts";
import { fixedRate } from "./lib/fixed-rate.ts";
import { cpuMs, memMb, spawnListening } from "./lib/proc.ts";
import { median, pct } from "./lib/stats.ts";
import { wrk, type WrkResult } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const quick = process.argv.includes("--quick");
const P: { rounds: number; wrkSec: number; conns: number; singleRounds: number; singleTokens: number; manyStreams: number; manyTokens: number } = quick
  ? { rounds: 1, wrkSec: 3, conns: 16, singleRounds: 10, singleTokens: 500, manyStreams: 200, manyTokens: 100 }
  : { rounds: 3, wrkSec: 10, conns: 32, singleRounds: 30, singleTokens: 2000, manyStreams: 200, manyTokens: 500 };
const ri = process.argv.indexOf("--rounds");
if (ri > 0) P.rounds = Number(process.argv[ri + 1]);
const BEFORE = beforeArg(null);
// (a) alone: the small-request figures (CPU per request) in more rounds for the same time.
const STREAMS = !process.argv.includes("--no-streams");
const SMALL_BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });

interface StreamResult {
  ttftMs: number[];
  chunks: number;
  wallMs: number;
  errors: number;
}
async function streamLoad(url: string, streams: number, tokens: number, rounds: number): Promise<StreamResult> {
  const p = Bun.spawn([BUN, join(ROOT, "bench/lib/stream-load.ts"), "--url", url, "--streams", String(streams), "--tokens", String(tokens), "--rounds", String(rounds)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`stream-load failed for ${url}`);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

type Target = "direct" | "broker" | "nginx" | "before";
const TARGETS: Target[] = BEFORE ? ["direct", "broker", "nginx", "before"] : ["direct", "broker", "nginx"];
const per = <T>(make: () => T): Record<Target, T> => ({ direct: make(), broker: make(), nginx: make(), before: make() });

const fake = await spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "200", "--delay-ms", "0", "--models", "bench:latest"]);
const daemon = await startDaemon({
  config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "bench"\nurl = "${fake.url}"\n`,
  waitFor: ["broker"],
});
const daemonFetch = await startDaemon({
  config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "bench"\nurl = "${fake.url}"\n`,
  env: { CLOUDTOLOCALLLM_BROKER_CLIENT: "fetch" },
  waitFor: ["broker"],
});
const before = BEFORE ? beforeTree(ROOT, BEFORE) : null;
const daemonBefore = before
  ? await startDaemon({
      binary: before.serve,
      config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "bench"\nurl = "${fake.url}"\n`,
      waitFor: ["broker"],
    })
  : null;
const nginx = await startNginx(fake.url);
const urls: Record<Target, string> = { direct: fake.url, broker: daemon.urls.broker!, nginx: nginx.url, before: daemonBefore?.urls.broker ?? "" };
const brokerPid = daemon.proc.pid;
const idleRss = memMb(brokerPid).rss;

const small = per<WrkResult[]>(() => []);
// One connection: the latency a single app sees when the machine is not saturated by the benchmark itself.
const single1 = per<WrkResult[]>(() => []);
// CPU time per small request of the proxy process itself (nginx: master and workers): steadier than throughput on a busy machine.
const cpuPerReq = per<number[]>(() => []);
const pids: Record<Target, number> = { direct: fake.proc.pid, broker: daemon.proc.pid, nginx: nginx.pid, before: daemonBefore?.proc.pid ?? 0 };
const single = per<{ ttft: number[]; cps: number[] }>(() => ({ ttft: [], cps: [] }));
const many = per<{ p50: number[]; p99: number[]; cps: number[]; errors: number }>(() => ({ p50: [], p99: [], cps: [], errors: 0 }));
let rssAfterMany = 0;
// (d) with --before: CPU per request of each broker at the same fixed rate (open loop), so neither is helped by batching
// more requests per wake-up when it happens to get more of the machine.
const FIXED = { rate: 1000, seconds: quick ? 3 : 5 };
const fixedCpu = per<number[]>(() => []);
const viaFetch: { w: WrkResult[]; cpu: number[] } = { w: [], cpu: [] };

try {
  for (const u of [...TARGETS.map((t) => urls[t]), daemonFetch.urls.broker!]) await wrk(`${u}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: 1 }); // warm-up
  for (let r = 0; r < P.rounds; r++) {
    // Interleaved, so that a noisy moment on the shared machine hits every target alike (in turn-about order by round).
    for (const t of r % 2 ? [...TARGETS].reverse() : TARGETS) {
      const c0 = cpuMs(pids[t]);
      const w = await wrk(`${urls[t]}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: P.wrkSec });
      small[t].push(w);
      cpuPerReq[t].push(((cpuMs(pids[t]) - c0) * 1000) / Math.max(1, w.requests));
      if (t === "broker") {
        const f0 = cpuMs(daemonFetch.proc.pid);
        const wf = await wrk(`${daemonFetch.urls.broker!}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: P.wrkSec });
        viaFetch.w.push(wf);
        viaFetch.cpu.push(((cpuMs(daemonFetch.proc.pid) - f0) * 1000) / Math.max(1, wf.requests));
      }
    }
    for (const t of BEFORE ? (r % 2 ? (["before", "broker"] as const) : (["broker", "before"] as const)) : []) {
      const c0 = cpuMs(pids[t]);
      const fr = await fixedRate(`${urls[t]}/api/version`, { rate: FIXED.rate, seconds: FIXED.seconds });
      fixedCpu[t].push(((cpuMs(pids[t]) - c0) * 1000) / Math.max(1, fr.sent));
    }
    for (const t of TARGETS) single1[t].push(await wrk(`${urls[t]}/api/generate`, SMALL_BODY, { connections: 1, durationSec: P.wrkSec }));
    for (const t of STREAMS ? TARGETS : []) {
      const s = await streamLoad(urls[t], 1, P.singleTokens, P.singleRounds);
      single[t].ttft.push(median(s.ttftMs));
      single[t].cps.push(s.chunks / (s.wallMs / 1000));
    }
    for (const t of STREAMS ? TARGETS : []) {
      const s = await streamLoad(urls[t], P.manyStreams, P.manyTokens, 1);
      many[t].p50.push(pct(s.ttftMs, 50));
      many[t].p99.push(pct(s.ttftMs, 99));
      many[t].cps.push(s.chunks / (s.wallMs / 1000));
      many[t].errors += s.errors;
      if (t === "broker") rssAfterMany = Math.max(rssAfterMany, memMb(brokerPid).rss);
    }
  }
} finally {
  var peakRss = memMb(brokerPid).peak;
  await nginx.stop();
  await daemon.stop();
  removeHome(daemon.home);
  await daemonFetch.stop();
  removeHome(daemonFetch.home);
  if (daemonBefore) {
    await daemonBefore.stop();
    removeHome(daemonBefore.home);
  }
  before?.remove();
  fake.proc.kill();
  await fake.proc.exited;
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "–");
const fi = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
type Row = [string, number, number, number, "lower" | "higher", (n: number) => string, number];
const rows: Row[] = [
  [`(a) small requests, ${P.conns} connections: requests/s`, median(small.direct.map((x) => x.rps)), median(small.broker.map((x) => x.rps)), median(small.nginx.map((x) => x.rps)), "higher", fi, median(small.before.map((x) => x.rps))],
  ["(a) small requests: latency p50 (ms)", median(small.direct.map((x) => x.p50Ms)), median(small.broker.map((x) => x.p50Ms)), median(small.nginx.map((x) => x.p50Ms)), "lower", f, median(small.before.map((x) => x.p50Ms))],
  ["(a) small requests: latency p99 (ms)", median(small.direct.map((x) => x.p99Ms)), median(small.broker.map((x) => x.p99Ms)), median(small.nginx.map((x) => x.p99Ms)), "lower", f, median(small.before.map((x) => x.p99Ms))],
  ["(a) small requests: CPU per request of that process (µs)", median(cpuPerReq.direct), median(cpuPerReq.broker), median(cpuPerReq.nginx), "lower", (n) => f(n, 0), median(cpuPerReq.before)],
  ["(a) small requests, 1 connection: latency p50 (ms)", median(single1.direct.map((x) => x.p50Ms)), median(single1.broker.map((x) => x.p50Ms)), median(single1.nginx.map((x) => x.p50Ms)), "lower", f, median(single1.before.map((x) => x.p50Ms))],
  ["(a) small requests, 1 connection: latency p99 (ms)", median(single1.direct.map((x) => x.p99Ms)), median(single1.broker.map((x) => x.p99Ms)), median(single1.nginx.map((x) => x.p99Ms)), "lower", f, median(single1.before.map((x) => x.p99Ms))],
  ["(b) 1 stream: time to first token p50 (ms)", median(single.direct.ttft), median(single.broker.ttft), median(single.nginx.ttft), "lower", f, median(single.before.ttft)],
  ["(b) 1 stream: chunks/s", median(single.direct.cps), median(single.broker.cps), median(single.nginx.cps), "higher", fi, median(single.before.cps)],
  [`(b) ${P.manyStreams} streams: time to first token p50 (ms)`, median(many.direct.p50), median(many.broker.p50), median(many.nginx.p50), "lower", f, median(many.before.p50)],
  [`(b) ${P.manyStreams} streams: time to first token p99 (ms)`, median(many.direct.p99), median(many.broker.p99), median(many.nginx.p99), "lower", f, median(many.before.p99)],
  [`(b) ${P.manyStreams} streams: chunks/s (all streams)`, median(many.direct.cps), median(many.broker.cps), median(many.nginx.cps), "higher", fi, median(many.before.cps)],
];
const diff = (r: Row) => (r[4] === "lower" ? `${r[2] >= r[1] ? "+" : ""}${r[5](r[2] - r[1])}` : `${f((r[2] / r[1]) * 100, 0)} %`);
const lines = [
  `Broker benchmark (${quick ? "--quick" : "full"}, ${P.rounds} round${P.rounds > 1 ? "s" : ""}, medians), ${new Date().toISOString().slice(0, 16)}Z, Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores. ` +
    `Fake Ollama (separate process) direct, through the broker (a real daemon process), and through nginx ${"1 worker, keepalive upstream, proxy_buffering off"}.`,
  "",
  `| measure | direct | broker | nginx | broker vs direct | broker / nginx |${BEFORE ? ` broker at ${BEFORE} | now / before |` : ""}`,
  `| --- | ---: | ---: | ---: | ---: | ---: |${BEFORE ? " ---: | ---: |" : ""}`,
  ...rows.filter((r) => STREAMS || !r[0].startsWith("(b)")).map((r) => `| ${r[0]} | ${r[5](r[1])} | ${r[5](r[2])} | ${r[5](r[3])} | ${diff(r)} | ${f(r[2] / r[3], 2)}× |${BEFORE ? ` ${r[5](r[6])} | ${f(r[2] / r[6], 3)}× |` : ""}`),
  `| (c) broker RSS (MB): idle / after ${STREAMS ? P.manyStreams : 0} streams / peak | | ${f(idleRss, 1)} / ${f(rssAfterMany, 1)} / ${f(peakRss, 1)} | | | |${BEFORE ? " | |" : ""}`,
  "",
  ...(BEFORE
    ? [
        `(d) CPU per request at a fixed ${FIXED.rate} requests/s (GET /api/version through the pipeline, open loop, ${FIXED.seconds} s per round): ` +
          `now ${f(median(fixedCpu.broker), 1)} µs, at ${BEFORE} ${f(median(fixedCpu.before), 1)} µs, now / before ${f(median(fixedCpu.broker) / median(fixedCpu.before), 3)}× (median of the rounds' ratios ${f(median(fixedCpu.broker.map((x, i) => x / fixedCpu.before[i]!)), 3)}×) ` +
          `(per round: ${fixedCpu.broker.map((x, i) => f(x / fixedCpu.before[i]!, 3)).join(", ")}).`,
        "",
      ]
    : []),
  `(a) the same broker with Bun's fetch as its upstream client (CLOUDTOLOCALLLM_BROKER_CLIENT=fetch), same run: ` +
    `${fi(median(viaFetch.w.map((x) => x.rps)))} requests/s, p50 ${f(median(viaFetch.w.map((x) => x.p50Ms)))} ms, p99 ${f(median(viaFetch.w.map((x) => x.p99Ms)))} ms, ` +
    `CPU ${f(median(viaFetch.cpu), 0)} µs/request (HTTP/1.1 client: ${f(median(cpuPerReq.broker), 0)}).`,
  "",
  `Errors: wrk ${TARGETS.map((t) => `${t} ${[...small[t], ...single1[t]].reduce((a, x) => a + x.errors, 0)}`).join(", ")}; streams ${TARGETS.map((t) => `${t} ${many[t].errors}`).join(", ")}.`,
  "\"broker vs direct\": the difference for times, the share of direct for rates. CPU per request: the process in that column " +
    "(direct: the fake upstream alone; broker and nginx: the proxy alone, upstream not counted). The machine is shared: compare columns within one run.",
];
const table = lines.join("\n") + "\n";
console.log(table);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/broker.md"), table);

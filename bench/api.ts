// Benchmark: GET /api/v1/status of a real daemon at a fixed 500 requests/s (open loop, separate load process), beside a bare Bun.serve
// returning a static JSON of the same size. Target: p99 ≤ 1 ms.
//
//   bun bench/api.ts [--quick] [--rate N] [--seconds S] [--rounds R]
//
// Prints a markdown table and writes it to bench/results/api.md. Medians over the rounds.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { removeHome, startDaemon } from "../tests/helpers/daemon.ts";
import { fixedRate, type FixedRateResult } from "./lib/fixed-rate.ts";
import { spawnListening } from "./lib/proc.ts";
import { median, pct } from "./lib/stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { quick: { type: "boolean" }, rate: { type: "string" }, seconds: { type: "string" }, rounds: { type: "string" } },
});
const RATE = Number(values.rate ?? 500);
const SECONDS = Number(values.seconds ?? (values.quick ? 5 : 15));
const ROUNDS = Number(values.rounds ?? (values.quick ? 1 : 3));
const TARGET_P99_MS = 1;

const load = (url: string, headers: string[] = []) => fixedRate(url, { rate: RATE, seconds: SECONDS, headers });

// A real daemon with two upstreams answering (a fake Ollama in its own process), so the status has real content.
const fake = await spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--models", "llama3.2:1b,qwen2.5:0.5b"]);
const daemon = await startDaemon({
  config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n[[upstreams]]\nname = "second"\nurl = "${fake.url}"\n`,
  waitFor: ["api", "broker"],
});
const statusUrl = `${daemon.urls.api}/api/v1/status`;
await Bun.sleep(500); // first health checks
const sample = await (await fetch(statusUrl)).bytes();
const tmp = mkdtempSync(join(tmpdir(), "c2l-bench-api-"));
writeFileSync(join(tmp, "status.json"), sample);
const baseline = await spawnListening([BUN, join(ROOT, "bench/lib/static-json-server.ts"), join(tmp, "status.json")]);
const baselineUrl = `${baseline.url}/api/v1/status`;

const results = { baseline: [] as FixedRateResult[], api: [] as FixedRateResult[] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved, so that a noisy moment on the shared machine hits both alike.
    results.baseline.push(await load(baselineUrl));
    results.api.push(await load(statusUrl));
  }
} finally {
  await daemon.stop();
  removeHome(daemon.home);
  baseline.proc.kill();
  fake.proc.kill();
  await Promise.all([baseline.proc.exited, fake.proc.exited]);
  rmSync(tmp, { recursive: true, force: true });
}

const f = (n: number, d = 3) => (Number.isFinite(n) ? n.toFixed(d) : "–");
const stat = (rs: FixedRateResult[], p: number) => median(rs.map((r) => pct(r.latenciesMs, p)));
const rows: [string, (rs: FixedRateResult[]) => number, number][] = [
  ["latency p50 (ms)", (rs) => stat(rs, 50), 3],
  ["latency p90 (ms)", (rs) => stat(rs, 90), 3],
  ["latency p99 (ms)", (rs) => stat(rs, 99), 3],
  ["latency max (ms)", (rs) => stat(rs, 100), 2],
  ["achieved rate (req/s)", (rs) => median(rs.map((r) => r.achievedRate)), 0],
  ["errors", (rs) => rs.reduce((a, r) => a + r.errors, 0), 0],
];
const apiP99 = stat(results.api, 99);
const lines = [
  `## Control API: GET /api/v1/status`,
  "",
  `Open loop at ${RATE} requests/s for ${SECONDS} s per round (after 2 s warm-up), ${ROUNDS} round${ROUNDS > 1 ? "s" : ""} interleaved, medians; ` +
    `the load generator is its own process. Baseline: a bare Bun.serve returning the same ${sample.length}-byte JSON. ` +
    `${new Date().toISOString().slice(0, 16)}Z, Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores.`,
  "",
  "| measure | bare Bun.serve (baseline) | daemon /api/v1/status | ratio |",
  "| --- | ---: | ---: | ---: |",
  ...rows.map(([name, fn, d]) => {
    const b = fn(results.baseline);
    const a = fn(results.api);
    return `| ${name} | ${f(b, d)} | ${f(a, d)} | ${b ? f(a / b, 2) + "×" : "–"} |`;
  }),
  "",
  `Target: p99 ≤ ${TARGET_P99_MS} ms — ${apiP99 <= TARGET_P99_MS ? "**met**" : "**missed**"} (${f(apiP99)} ms).`,
];
const md = lines.join("\n") + "\n";
console.log(md);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/api.md"), md);

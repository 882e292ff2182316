// Benchmark: what the gateway costs and how fair its queue is, side by side in one run.
//
//   bun bench/gateway.ts [--quick] [--rounds N] [--before COMMIT]
//
// (a) small requests (wrk, fixed connections and one connection) to the fake Ollama direct, through a plain broker, and
//     through a broker with the gateway in use (require_key = "always", a key with rpm and model list, max_parallel on
//     the upstream): added p50/p99 per request over direct, CPU per request, and each daemon's RSS;
// (b) fairness under a flood: max_parallel = 1 on an upstream taking ~40 ms per answer; key "flood" keeps 16 requests
//     waiting while key "editor" sends one request at a time: each key's share of the answers, and the editor's
//     worst and median wait in the queue (Server-Timing queue;dur).
// (c) the gateway of an earlier commit (--before, default 8df390f: the main before issue 21's model checks), run from
//     that commit's tree beside today's in the same rounds, so "CPU per request, now / before" compares like with like.
// Prints a markdown table and writes it to bench/results/gateway.md. Medians over the rounds.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome, startDaemon, type DaemonProc } from "../tests/helpers/daemon.ts";
import { beforeArg, beforeTree } from "./lib/before-tree.ts";
import { cpuMs, memMb, spawnListening } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";
import { wrk, type WrkResult } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const quick = process.argv.includes("--quick");
const P = quick ? { rounds: 1, wrkSec: 3, conns: 16, floodSec: 3 } : { rounds: 3, wrkSec: 8, conns: 32, floodSec: 8 };
const ri = process.argv.indexOf("--rounds");
if (ri > 0) P.rounds = Number(process.argv[ri + 1]);
const SMALL_BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });

const BEFORE = beforeArg("8df390f")!;
// The earlier commit's tree, beside this one's node_modules: its daemon and its CLI run from there.
const before = beforeTree(ROOT, BEFORE);

function key(d: DaemonProc, ...args: string[]): string {
  return keyWith(join(ROOT, "src/main.ts"), d, ...args);
}
function keyWith(main: string, d: DaemonProc, ...args: string[]): string {
  const r = Bun.spawnSync([BUN, main, "key", ...args], { env: d.env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`key ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.toString().trim();
}

const fast = await spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--delay-ms", "0", "--models", "bench:latest"]);
const slow = await spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "4", "--delay-ms", "10", "--models", "bench:latest"]);
const base = (url: string, extra = "") => `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${extra}\n[logging]\nrequests = false\n[[upstreams]]\nname = "bench"\nurl = "${url}"\n`;
const plain = await startDaemon({ config: base(fast.url), waitFor: ["broker"] });
// The keys file must hold a key before a broker that requires one starts: made with the CLI in the daemon's home first.
const gw = await startDaemon({ config: base(fast.url), waitFor: ["broker"] });
const gwKey = key(gw, "create", "bench", "--models", "bench*", "--rpm", "100000000");
await gw.stop();
const gateway = await startDaemon({ home: gw.home, config: base(fast.url, 'require_key = "always"') + `max_parallel = ${P.conns}\n`, waitFor: ["broker"] });
const gwB = await startDaemon({ binary: before.serve, config: base(fast.url), waitFor: ["broker"] });
const beforeKey = keyWith(before.main, gwB, "create", "bench", "--models", "bench*", "--rpm", "100000000");
await gwB.stop();
const gatewayBefore = await startDaemon({ binary: before.serve, home: gwB.home, config: base(fast.url, 'require_key = "always"') + `max_parallel = ${P.conns}\n`, waitFor: ["broker"] });
const fair = await startDaemon({ config: base(slow.url) + "max_parallel = 1\n", waitFor: ["broker"] });
const floodKey = key(fair, "create", "flood");
const editorKey = key(fair, "create", "editor");
await Bun.sleep(1200); // the daemon sees keys made while it runs within a second

type Target = "direct" | "broker" | "gateway" | "before";
const TARGETS: Target[] = ["direct", "broker", "gateway", "before"];
const urls: Record<Target, string> = { direct: fast.url, broker: plain.urls.broker!, gateway: gateway.urls.broker!, before: gatewayBefore.urls.broker! };
const headers: Record<Target, Record<string, string>> = { direct: {}, broker: {}, gateway: { Authorization: `Bearer ${gwKey}` }, before: { Authorization: `Bearer ${beforeKey}` } };
const pids: Record<Target, number> = { direct: fast.proc.pid, broker: plain.proc.pid, gateway: gateway.proc.pid, before: gatewayBefore.proc.pid };
const many: Record<Target, WrkResult[]> = { direct: [], broker: [], gateway: [], before: [] };
const one: Record<Target, WrkResult[]> = { direct: [], broker: [], gateway: [], before: [] };
const cpu: Record<Target, number[]> = { direct: [], broker: [], gateway: [], before: [] };
const fairness = { flood: [] as number[], editor: [] as number[], editorWaitMax: [] as number[], editorWaitP50: [] as number[], editorAlone: [] as number[] };

async function floodRound(): Promise<void> {
  const body = JSON.stringify({ model: "bench:latest", prompt: "x", stream: false });
  const post = (k: string) => fetch(`${fair.urls.broker}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${k}` }, body });
  const end = performance.now() + P.floodSec * 1000;
  const done = { flood: 0, editor: 0 };
  const waits: number[] = [];
  // The editor alone first: its time per request without the flood.
  const t0 = performance.now();
  await (await post(editorKey)).arrayBuffer();
  fairness.editorAlone.push(performance.now() - t0);
  const flooder = async () => {
    while (performance.now() < end) {
      const r = await post(floodKey);
      await r.arrayBuffer();
      if (r.ok) done.flood++;
    }
  };
  const editor = async () => {
    while (performance.now() < end) {
      const r = await post(editorKey);
      await r.arrayBuffer();
      if (r.ok) done.editor++;
      const q = /queue;dur=([\d.]+)/.exec(r.headers.get("server-timing") ?? "");
      if (q) waits.push(Number(q[1]));
    }
  };
  await Promise.all([...Array.from({ length: 16 }, flooder), editor()]);
  const total = done.flood + done.editor;
  fairness.flood.push((done.flood / total) * 100);
  fairness.editor.push((done.editor / total) * 100);
  fairness.editorWaitMax.push(Math.max(...waits));
  fairness.editorWaitP50.push(median(waits));
}

let rss: Record<"broker" | "gateway" | "before", number> = { broker: 0, gateway: 0, before: 0 };
try {
  for (const t of TARGETS) await wrk(`${urls[t]}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: 1, headers: headers[t] });
  for (let r = 0; r < P.rounds; r++) {
    // In turn-about order by round, so a drift in the machine's load does not favour one target.
    for (const t of r % 2 ? [...TARGETS].reverse() : TARGETS) {
      const c0 = cpuMs(pids[t]);
      const w = await wrk(`${urls[t]}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: P.wrkSec, headers: headers[t] });
      many[t].push(w);
      cpu[t].push(((cpuMs(pids[t]) - c0) * 1000) / Math.max(1, w.requests));
    }
    for (const t of TARGETS) one[t].push(await wrk(`${urls[t]}/api/generate`, SMALL_BODY, { connections: 1, durationSec: P.wrkSec, headers: headers[t] }));
    await floodRound();
  }
  rss = { broker: memMb(plain.proc.pid).rss, gateway: memMb(gateway.proc.pid).rss, before: memMb(gatewayBefore.proc.pid).rss };
} finally {
  for (const d of [plain, gateway, gatewayBefore, fair]) {
    await d.stop();
    removeHome(d.home);
  }
  before.remove();
  for (const f of [fast, slow]) {
    f.proc.kill();
    await f.proc.exited;
  }
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "–");
const fi = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const m = (t: Target, pick: (w: WrkResult) => number, set = many) => median(set[t].map(pick));
const added = (t: Target, pick: (w: WrkResult) => number, set = many) => f(m(t, pick, set) - m("direct", pick, set));
const lines = [
  `Gateway benchmark (${quick ? "--quick" : "full"}, ${P.rounds} round${P.rounds > 1 ? "s" : ""}, medians), ${new Date().toISOString().slice(0, 16)}Z, Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores. ` +
    `Fake Ollama direct, through a plain broker, through a broker with the gateway in use (require_key = "always", a key with rpm and a model list, max_parallel = ${P.conns}), and the same gateway at commit ${BEFORE} ("before", run from that commit's tree in the same rounds).`,
  "",
  "| measure | direct | broker | broker + gateway | gateway vs broker | gateway before | gateway now / before |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  `| ${P.conns} connections: requests/s | ${fi(m("direct", (w) => w.rps))} | ${fi(m("broker", (w) => w.rps))} | ${fi(m("gateway", (w) => w.rps))} | ${f((m("gateway", (w) => w.rps) / m("broker", (w) => w.rps)) * 100, 0)} % | ${fi(m("before", (w) => w.rps))} | ${f(m("gateway", (w) => w.rps) / m("before", (w) => w.rps))}× |`,
  `| ${P.conns} connections: added p50 / p99 over direct (ms) | | ${added("broker", (w) => w.p50Ms)} / ${added("broker", (w) => w.p99Ms)} | ${added("gateway", (w) => w.p50Ms)} / ${added("gateway", (w) => w.p99Ms)} | | ${added("before", (w) => w.p50Ms)} / ${added("before", (w) => w.p99Ms)} | |`,
  `| 1 connection: added p50 / p99 over direct (ms) | | ${added("broker", (w) => w.p50Ms, one)} / ${added("broker", (w) => w.p99Ms, one)} | ${added("gateway", (w) => w.p50Ms, one)} / ${added("gateway", (w) => w.p99Ms, one)} | ${f(m("gateway", (w) => w.p50Ms, one) - m("broker", (w) => w.p50Ms, one), 3)} ms p50 | ${added("before", (w) => w.p50Ms, one)} / ${added("before", (w) => w.p99Ms, one)} | |`,
  `| CPU per request of that process (µs) | ${f(median(cpu.direct), 0)} | ${f(median(cpu.broker), 0)} | ${f(median(cpu.gateway), 0)} | ${f(median(cpu.gateway) - median(cpu.broker), 0)} µs | ${f(median(cpu.before), 0)} | ${f(median(cpu.gateway) / median(cpu.before))}× |`,
  `| daemon RSS after the run (MB) | | ${f(rss.broker, 1)} | ${f(rss.gateway, 1)} | | ${f(rss.before, 1)} | |`,
  "",
  `CPU per request, gateway now / before, round by round (each pair measured back to back): ${cpu.gateway.map((x, i) => f(x / cpu.before[i]!, 3)).join(", ")}; median ${f(median(cpu.gateway.map((x, i) => x / cpu.before[i]!)), 3)}×.`,
  "",
  `Fairness (max_parallel = 1, ~40 ms per answer, ${P.floodSec} s): 16 requests of key "flood" always waiting, key "editor" one at a time. ` +
    `Share of answers: flood ${f(median(fairness.flood), 1)} %, editor ${f(median(fairness.editor), 1)} % (two keys in turn: 50 % each when both always wait). ` +
    `Editor's wait in the queue: p50 ${f(median(fairness.editorWaitP50), 1)} ms, worst ${f(median(fairness.editorWaitMax), 1)} ms; one answer alone takes ${f(median(fairness.editorAlone), 1)} ms, so a wait of about one answer means one slot.`,
  "",
  `Errors (non-2xx or socket): ${TARGETS.map((t) => `${t} ${[...many[t], ...one[t]].reduce((a, x) => a + x.errors, 0)}`).join(", ")}. The machine is shared: compare columns within one run.`,
];
const table = lines.join("\n") + "\n";
console.log(table);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/gateway.md"), table);

// Benchmark: load-aware routing against today's choice (priority, then latency), with two upstreams of different capacity.
//
//   bun bench/routing.ts [--quick]
//
// Two fake llama.cpp servers (tests/helpers/fake-ollama.ts --kind llamacpp, each its own process) serve one model: "small"
// runs 1 generation at a time, "big" 4 (their --parallel; more wait inside the server, as llama-server defers them), each
// generation 10 tokens of 20 ms. "small" has the better priority. Two daemons of this build, each in front of its own such pair:
//   load-aware  kind = "llamacpp": the health checks read /slots, and the router adds its own requests in flight;
//   priority    kind = "openai": the server reports no load, so the order is today's: priority, then latency.
// C clients in a closed loop (each sends its next request when the last one answered) for a few seconds per round, the
// two daemons interleaved round by round; medians over the rounds of throughput and of p50/p95 latency, and the ratio.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome, startDaemon, type DaemonProc } from "../tests/helpers/daemon.ts";
import { spawnListening } from "./lib/proc.ts";
import { median, pct } from "./lib/stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const quick = process.argv.includes("--quick");
const P = quick ? { rounds: 2, seconds: 2, clients: [2, 5] } : { rounds: 5, seconds: 4, clients: [2, 5, 8] };
const TOKENS = 10;
const DELAY_MS = 20;
const MODEL = "bench:latest";

const fake = (slots: number) =>
  spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--kind", "llamacpp", "--slots", String(slots), "--tokens", String(TOKENS), "--delay-ms", String(DELAY_MS), "--models", MODEL]);
type Mode = "load-aware" | "priority";
const MODES: Mode[] = ["load-aware", "priority"];
// A pair of servers per daemon: a daemon's health checks would otherwise read the other's requests as another
// client's load (which they are), and hold back the 1-slot server for an interval after the other's round.
const servers = { "load-aware": { small: await fake(1), big: await fake(4) }, priority: { small: await fake(1), big: await fake(4) } };
const config = (kind: string, { small, big }: (typeof servers)[Mode]) =>
  `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[health]\ninterval = "2s"\n` +
  `[[upstreams]]\nname = "small"\nkind = "${kind}"\nurl = "${small.url}"\npriority = 1\n` +
  `[[upstreams]]\nname = "big"\nkind = "${kind}"\nurl = "${big.url}"\npriority = 2\n`;
const daemons: Record<Mode, DaemonProc> = {
  "load-aware": await startDaemon({ config: config("llamacpp", servers["load-aware"]), waitFor: ["api", "broker"] }),
  priority: await startDaemon({ config: config("openai", servers.priority), waitFor: ["api", "broker"] }),
};

/** Requests each upstream has served so far, from the daemon's status API. */
async function served(d: DaemonProc): Promise<Record<string, number>> {
  const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const list = (await (await fetch(`${d.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string; metrics: { totalRequests: number } }[];
  return Object.fromEntries(list.map((u) => [u.name, u.metrics.totalRequests]));
}

async function waitUp(d: DaemonProc): Promise<void> {
  const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  for (const end = Date.now() + 15_000; Date.now() < end; await Bun.sleep(50)) {
    const list = (await (await fetch(`${d.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { state: string }[];
    if (list.every((u) => u.state === "up")) return;
  }
  throw new Error("the upstreams did not come up");
}

const BODY = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: TOKENS });

/** C clients in a closed loop for `seconds`: requests per second, every latency (ms), and the share that went to "big". */
async function closedLoop(d: DaemonProc, clients: number, seconds: number): Promise<{ rps: number; lat: number[]; bigShare: number; errors: number }> {
  const url = `${d.urls.broker}/v1/chat/completions`;
  const before = await served(d);
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        const res = await fetch(url, { method: "POST", body: BODY });
        await res.arrayBuffer();
        if (res.ok) lat.push(performance.now() - s);
        else errors++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const after = await served(d);
  const bigN = after.big! - before.big!;
  const smallN = after.small! - before.small!;
  return { rps: lat.length / wall, lat, bigShare: bigN / Math.max(1, bigN + smallN), errors };
}

type Sample = { rps: number[]; p50: number[]; p95: number[]; big: number[]; errors: number };
const results = new Map<string, Sample>();
const key = (m: Mode, c: number) => `${m}/${c}`;
try {
  for (const m of MODES) await waitUp(daemons[m]);
  for (const m of MODES) await closedLoop(daemons[m], 2, 1); // warm-up
  for (let r = 0; r < P.rounds; r++) {
    for (const c of P.clients) {
      // Interleaved, so that a noisy moment on the shared machine hits both alike.
      for (const m of r % 2 ? [...MODES].reverse() : MODES) {
        const x = await closedLoop(daemons[m], c, P.seconds);
        const s = results.get(key(m, c)) ?? { rps: [], p50: [], p95: [], big: [], errors: 0 };
        s.rps.push(x.rps);
        s.p50.push(pct(x.lat, 50));
        s.p95.push(pct(x.lat, 95));
        s.big.push(x.bigShare);
        s.errors += x.errors;
        results.set(key(m, c), s);
      }
    }
  }
} finally {
  for (const m of MODES) {
    await daemons[m].stop();
    removeHome(daemons[m].home);
  }
  for (const f of MODES.flatMap((m) => [servers[m].small, servers[m].big])) {
    f.proc.kill();
    await f.proc.exited;
  }
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toString() : "–");
const lines = [
  `Load-aware routing vs today's choice (priority, then latency): two fake llama.cpp servers of 1 and 4 slots (the 1-slot one preferred by priority), each generation ${TOKENS} tokens × ${DELAY_MS} ms; C clients in a closed loop, ${P.seconds} s per round, ${P.rounds} rounds interleaved, medians. \`bun bench/routing.ts\`${quick ? " --quick" : ""}.`,
  "",
  "| clients | routing | req/s | p50 ms | p95 ms | to the 4-slot server | errors |",
  "| --- | --- | --- | --- | --- | --- | --- |",
];
for (const c of P.clients)
  for (const m of MODES) {
    const s = results.get(key(m, c))!;
    lines.push(`| ${c} | ${m} | ${f1(median(s.rps))} | ${f0(median(s.p50))} | ${f0(median(s.p95))} | ${f0(median(s.big) * 100)} % | ${s.errors} |`);
  }
lines.push("", "| clients | throughput, load-aware / priority | p95 latency, priority / load-aware |", "| --- | --- | --- |");
for (const c of P.clients) {
  const a = results.get(key("load-aware", c))!;
  const b = results.get(key("priority", c))!;
  lines.push(`| ${c} | ${(median(a.rps) / median(b.rps)).toFixed(2)}× | ${(median(b.p95) / median(a.p95)).toFixed(2)}× |`);
}
const table = lines.join("\n");
console.log(table);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/routing.md"), table + "\n");

// Benchmark: the broker's own CPU per proxied request (no HTTP server in front), today's request path against an earlier commit's.
//
//   bun bench/pipeline-cpu.ts [--before COMMIT] [--rounds N] [--requests N]
//
// Both brokers run in this one process (the earlier one imported from its commit's tree, lib/before-tree.ts) in front
// of the same fake Ollama (its own process); each round sends N small `stream: false` requests through broker.handle()
// of each in turn (turn-about order), 16 at a time, and divides this process's CPU time by N. Without the listener and
// Bun's HTTP server (the same code on both sides) the request path is most of what is measured, so a change in it shows
// up several times larger than in bench/broker.ts. Medians over the rounds; writes bench/results/pipeline-cpu.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeArg, beforeTree } from "./lib/before-tree.ts";
import { spawnListening } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const BEFORE = beforeArg("79a0360")!;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("--rounds", 15);
const N = arg("--requests", 4000);
const CONCURRENCY = 16;
const SMALL_BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });

interface BrokerLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  upstream(name: string): { state: string } | undefined;
  handle(req: Request, source: "local" | "tunnel"): Promise<Response>;
}

async function load(root: string, url: string): Promise<BrokerLike> {
  const { parseConfig } = await import(join(root, "src/config/load.ts"));
  const { EventBus } = await import(join(root, "src/core/events.ts"));
  const { Broker } = await import(join(root, "src/broker/broker.ts"));
  const r = parseConfig(`[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "bench"\nurl = "${url}"\n`, "bench.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const b = new Broker(r.config, new EventBus(), {}) as BrokerLike;
  await b.start();
  const end = Date.now() + 10_000;
  while (b.upstream("bench")?.state !== "up") {
    if (Date.now() > end) throw new Error(`${root}: the upstream did not come up`);
    await Bun.sleep(20);
  }
  return b;
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function round(b: BrokerLike, n: number): Promise<number> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) {
      const req = new Request("http://127.0.0.1:11435/api/generate", { method: "POST", body: SMALL_BODY, headers: { "content-type": "application/json", "content-length": String(SMALL_BODY.length) } });
      const res = await b.handle(req, "local");
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await res.arrayBuffer();
    }
  };
  Bun.gc(true);
  const c0 = cpuUs();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return (cpuUs() - c0) / n;
}

const fake = await spawnListening([process.execPath, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--delay-ms", "0", "--models", "bench:latest"]);
const tree = beforeTree(ROOT, BEFORE);
// Today's side from a tree of its own too (HEAD, or --now COMMIT): both sides then load alike, so neither is favoured
// by where its files live. --before HEAD is the A/A check: the ratio it prints is the bench's own bias.
const ni = process.argv.indexOf("--now");
const nowTree = beforeTree(ROOT, ni > 0 ? process.argv[ni + 1]! : "HEAD");
const cpu = { now: [] as number[], before: [] as number[] };
let now: BrokerLike | null = null;
let before: BrokerLike | null = null;
try {
  // Loaded in the other order with --load-before-first: whichever loads first may be compiled differently.
  if (process.argv.includes("--load-before-first")) before = await load(tree.dir, fake.url);
  now = await load(nowTree.dir, fake.url);
  before ??= await load(tree.dir, fake.url);
  const targets = { now, before } as const;
  // Warm-up: both paths compiled by the JIT before anything is counted.
  for (const b of [now, before]) await round(b, N);
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 ? (["before", "now"] as const) : (["now", "before"] as const)) cpu[t].push(await round(targets[t], N));
  }
} finally {
  await now?.stop();
  await before?.stop();
  tree.remove();
  nowTree.remove();
  fake.proc.kill();
  await fake.proc.exited;
}

const ratios = cpu.now.map((x, i) => x / cpu.before[i]!);
const f = (n: number, d = 1) => n.toFixed(d);
const table =
  [
    `Pipeline CPU benchmark (${ROUNDS} rounds of ${N} requests, ${CONCURRENCY} at a time, medians), ${new Date().toISOString().slice(0, 16)}Z, Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores. ` +
      `broker.handle() in-process (no listener), small stream:false /api/generate to a fake Ollama in its own process; today's tree and ${BEFORE}'s in turn-about order.`,
    "",
    "| measure | now | before | now / before |",
    "| --- | ---: | ---: | ---: |",
    `| CPU per request of this process (µs), median | ${f(median(cpu.now))} | ${f(median(cpu.before))} | ${f(median(cpu.now) / median(cpu.before), 3)}× |`,
    `| ratio per round (now / before): median, min, max | | | ${f(median(ratios), 3)}× (${f(Math.min(...ratios), 3)}–${f(Math.max(...ratios), 3)}) |`,
    "",
    `Rounds (µs, now / before): ${cpu.now.map((x, i) => `${f(x)}/${f(cpu.before[i]!)}`).join(", ")}.`,
  ].join("\n") + "\n";
console.log(table);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/pipeline-cpu.md"), table);

// Benchmark: the relay cluster's forward hop and scale-out, in one run. Redis, three relay nodes (real processes), a
// real daemon as the agent (connected to node n1, so n1 owns the tunnel), a fake Ollama; HAProxy for the throughput rows.
//
//   bun bench/relay-cluster.ts [--quick]
//
// (a) small requests one at a time: client → owner node vs client → another node (which forwards): added p50/p99;
// (b) streaming: time to first token and chunks/s of /api/generate, owner vs forwarded;
// (c) throughput at 32 connections (wrk, small generate requests): HAProxy → 1 node vs HAProxy → 3 nodes (round robin,
//     two thirds of the requests forwarded).
// Prints a markdown table and writes it to bench/results/relay-cluster.md. Medians over the rounds, interleaved.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome } from "../tests/helpers/daemon.ts";
import { startRedis } from "../tests/helpers/redis.ts";
import { startCluster, startHaproxy } from "../tests/relay/cluster-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, daemonToml, startAgentDaemon } from "../tests/tunnel/helpers.ts";
import { memMb, spawnListening } from "./lib/proc.ts";
import { smallLatencies, streamRates } from "./lib/sequential-client.ts";
import { median, pct } from "./lib/stats.ts";
import { wrk, type WrkResult } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const quick = process.argv.includes("--quick");
const P = quick ? { small: 300, warm: 30, streamRounds: 3, tokens: 5000, rounds: 1, wrkSec: 3, conns: 32 } : { small: 2000, warm: 200, streamRounds: 8, tokens: 20000, rounds: 3, wrkSec: 8, conns: 32 };
const SMALL_BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });
const auth = { Authorization: `Bearer ${CLIENT_KEY}` };

const small = (base: string) => smallLatencies(base, auth, P.warm, P.small);
const stream = (base: string) => streamRates(base, auth, P.streamRounds, P.tokens);

const redis = await startRedis();
const fake = await spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "5", "--models", "bench:latest"]);
// A limit far above what the run sends: the shared window is on every request's path (measured), never refusing one.
const cluster = await startCluster({ redisUrl: redis.url, leaseTtl: "10s", nodeTtl: "6s", requestsPerMinute: 10_000_000 });
const [n1, n2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
const lb1 = await startHaproxy([n1]);
const lb3 = await startHaproxy(cluster.nodes);
const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${n1.url.replace(/^http/, "ws")}/agent`, tunnel: "[logging]\nrequests = false\n", heartbeat: ["10s", "15s"], backoff: ["1s", "60s"] }));
try {
  const owner = `${n1.url}/t/${TUNNEL_ID}`;
  const other = `${n2.url}/t/${TUNNEL_ID}`;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${other}/api/tags`, { headers: auth });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
    await Bun.sleep(100);
  }
  const sm = { owner: [] as number[], other: [] as number[] };
  const st = { owner: [] as { ttft: number; chunksPerSec: number }[], other: [] as { ttft: number; chunksPerSec: number }[] };
  const tp = { one: [] as WrkResult[], three: [] as WrkResult[] };
  for (const base of [lb1.url, lb3.url]) await wrk(`${base}/t/${TUNNEL_ID}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: 1, headers: auth }); // warm-up
  for (let r = 0; r < P.rounds; r++) {
    sm.owner.push(...(await small(owner)));
    sm.other.push(...(await small(other)));
    st.owner.push(await stream(owner));
    st.other.push(await stream(other));
    tp.one.push(await wrk(`${lb1.url}/t/${TUNNEL_ID}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: P.wrkSec, headers: auth }));
    tp.three.push(await wrk(`${lb3.url}/t/${TUNNEL_ID}/api/generate`, SMALL_BODY, { connections: P.conns, durationSec: P.wrkSec, headers: auth }));
  }
  for (const w of [...tp.one, ...tp.three]) if (w.errors) throw new Error(`wrk saw ${w.errors} errors`);
  const f = (n: number, d = 2) => n.toFixed(d);
  const sign = (n: number) => `${n >= 0 ? "+" : "−"}${f(Math.abs(n))} ms`;
  const m = (xs: number[]) => median(xs);
  const ttft = { o: m(st.owner.map((x) => x.ttft)), x: m(st.other.map((x) => x.ttft)) };
  const cps = { o: m(st.owner.map((x) => x.chunksPerSec)), x: m(st.other.map((x) => x.chunksPerSec)) };
  const rps = { one: m(tp.one.map((w) => w.rps)), three: m(tp.three.map((w) => w.rps)) };
  const p50 = { one: m(tp.one.map((w) => w.p50Ms)), three: m(tp.three.map((w) => w.p50Ms)) };
  const p99 = { one: m(tp.one.map((w) => w.p99Ms)), three: m(tp.three.map((w) => w.p99Ms)) };
  const rows = [
    ["(a) small request p50 (ms)", f(pct(sm.owner, 50)), f(pct(sm.other, 50)), sign(pct(sm.other, 50) - pct(sm.owner, 50))],
    ["(a) small request p99 (ms)", f(pct(sm.owner, 99)), f(pct(sm.other, 99)), sign(pct(sm.other, 99) - pct(sm.owner, 99))],
    ["(b) streaming TTFT (ms)", f(ttft.o), f(ttft.x), sign(ttft.x - ttft.o)],
    ["(b) streaming chunks/s", f(cps.o, 0), f(cps.x, 0), `×${f(cps.x / cps.o)}`],
  ];
  const rows2 = [
    [`(c) ${P.conns} connections: requests/s`, f(rps.one, 0), f(rps.three, 0), `×${f(rps.three / rps.one)}`],
    ["(c) latency p50 (ms)", f(p50.one), f(p50.three), sign(p50.three - p50.one)],
    ["(c) latency p99 (ms)", f(p99.one), f(p99.three), sign(p99.three - p99.one)],
  ];
  const table = [
    `Relay cluster benchmark${quick ? " (--quick)" : ""}: Redis, 3 relay nodes and a real daemon on one ${navigator.hardwareConcurrency}-CPU machine; the agent is on n1. ${P.small} small requests one at a time per round, ${P.streamRounds} streams of ${P.tokens} tokens, wrk ${P.wrkSec} s at ${P.conns} connections; ${P.rounds} interleaved rounds, medians.`,
    "",
    "| metric | client → owner node | client → other node (forwarded) | forward hop |",
    "|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    "| metric | HAProxy → 1 node | HAProxy → 3 nodes | difference |",
    "|---|---:|---:|---:|",
    ...rows2.map((r) => `| ${r.join(" | ")} |`),
    "",
    `Peak RSS: owner node ${f(memMb(n1.proc.pid).peak, 0)} MiB, forwarding node ${f(memMb(n2.proc.pid).peak, 0)} MiB. Run ${new Date().toISOString()}.`,
    "",
  ].join("\n");
  console.log(table);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/relay-cluster.md"), table);
} finally {
  await daemon.stop();
  await lb1.stop();
  await lb3.stop();
  await cluster.stop();
  fake.proc.kill();
  await fake.proc.exited;
  await redis.stop();
  removeHome(daemon.home);
}

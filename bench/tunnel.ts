// Benchmark: requests through the tunnel (relay process → daemon process → fake Ollama) against the broker directly, in one run.
//
//   bun bench/tunnel.ts [--quick]
//
// (a) added latency p50/p99 for small requests (GET /api/version, one at a time);
// (b) streaming: time to first token and chunks/s of /api/generate;
// (c) bulk throughput: a 100 MB upload (/api/blobs, generated as a stream) — 20 MB with --quick.
// Prints a markdown table and writes it to bench/results/tunnel.md. Medians over the rounds.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome } from "../tests/helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, generatedBody, daemonToml, relayToml, startAgentDaemon, startRelayProc } from "../tests/tunnel/helpers.ts";
import { memMb, spawnListening } from "./lib/proc.ts";
import { smallLatencies, streamRates } from "./lib/sequential-client.ts";
import { median, pct } from "./lib/stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const quick = process.argv.includes("--quick");
const P = quick ? { small: 300, warm: 30, streamRounds: 3, tokens: 5000, bulkMb: 20, bulkRounds: 1 } : { small: 3000, warm: 200, streamRounds: 10, tokens: 20000, bulkMb: 100, bulkRounds: 3 };

interface Target {
  name: string;
  base: string;
  headers: Record<string, string>;
}

const small = (t: Target) => smallLatencies(t.base, t.headers, P.warm, P.small);
const stream = (t: Target) => streamRates(t.base, t.headers, P.streamRounds, P.tokens);

async function bulk(t: Target): Promise<number> {
  const total = P.bulkMb * 1024 * 1024;
  const rates: number[] = [];
  for (let r = 0; r < P.bulkRounds; r++) {
    const body = generatedBody(total);
    const t0 = performance.now();
    const res = await fetch(`${t.base}/api/blobs/sha256:${String(r).padStart(64, "0")}`, { method: "POST", body, headers: t.headers, duplex: "half" } as RequestInit);
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`${t.name}: upload answered ${res.status}`);
    rates.push(total / 1024 / 1024 / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

const fake = await spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "5", "--models", "bench:latest"]);
const relay = await startRelayProc(relayToml());
const daemon = await startAgentDaemon(
  daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true\n[logging]\nrequests = false\n", heartbeat: ["10s", "15s"], backoff: ["1s", "60s"] }),
);
try {
  const direct: Target = { name: "direct (broker)", base: daemon.urls.broker!, headers: {} };
  const tunnel: Target = { name: "through the tunnel", base: `${relay.url}/t/${TUNNEL_ID}`, headers: { Authorization: `Bearer ${CLIENT_KEY}` } };
  // Wait for the broker's first health check so /api/generate finds the model.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${tunnel.base}/api/tags`, { headers: tunnel.headers });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
    await Bun.sleep(100);
  }
  const res: Record<string, { small: number[]; stream: { ttft: number; chunksPerSec: number }; bulk: number }> = {};
  // Interleaved per measurement so both targets see the same machine load.
  const s = { d: await small(direct), t: await small(tunnel) };
  const st = { d: await stream(direct), t: await stream(tunnel) };
  const b = { d: await bulk(direct), t: await bulk(tunnel) };
  res.direct = { small: s.d, stream: st.d, bulk: b.d };
  res.tunnel = { small: s.t, stream: st.t, bulk: b.t };
  const f = (n: number, d = 2) => n.toFixed(d);
  const sign = (n: number) => `${n >= 0 ? "+" : "−"}${f(Math.abs(n))} ms`;
  const rows = [
    ["small request p50 (ms)", f(pct(s.d, 50)), f(pct(s.t, 50)), sign(pct(s.t, 50) - pct(s.d, 50)), "added ≤ 2 ms"],
    ["small request p99 (ms)", f(pct(s.d, 99)), f(pct(s.t, 99)), sign(pct(s.t, 99) - pct(s.d, 99)), ""],
    ["streaming TTFT (ms)", f(st.d.ttft), f(st.t.ttft), sign(st.t.ttft - st.d.ttft), ""],
    ["streaming chunks/s", f(st.d.chunksPerSec, 0), f(st.t.chunksPerSec, 0), `×${f(st.t.chunksPerSec / st.d.chunksPerSec)}`, ""],
    [`bulk upload ${P.bulkMb} MB (MB/s)`, f(b.d, 0), f(b.t, 0), `×${f(b.t / b.d)}`, "≥ 200 MB/s"],
    ["relay peak RSS (MiB)", "", f(memMb(relay.proc.pid).peak, 0), "", ""],
    ["daemon peak RSS (MiB)", f(memMb(daemon.proc.pid).peak, 0), "", "", ""],
  ];
  const table = [
    `Tunnel benchmark${quick ? " (--quick)" : ""}: ${P.small} small requests one at a time, ${P.streamRounds} streams of ${P.tokens} tokens, ${P.bulkRounds}× ${P.bulkMb} MB upload; loopback, medians.`,
    "",
    "| metric | direct (broker) | through the tunnel | difference | target |",
    "|---|---:|---:|---:|---|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    `Run ${new Date().toISOString()} on ${navigator.hardwareConcurrency} CPUs; relay and daemon are separate processes (bun src/main.ts relay / serve).`,
    "",
  ].join("\n");
  console.log(table);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/tunnel.md"), table);
} finally {
  await daemon.stop();
  await relay.stop();
  fake.proc.kill();
  await fake.proc.exited;
  cleanup(relay.dir);
  removeHome(daemon.home);
}

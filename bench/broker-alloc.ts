// Benchmark: what one small request allocates in the broker, and the collections that makes under one connection's
// load, today beside an earlier commit (issue 27, item 4; docs/performance.md, "What makes the broker's tail").
//   bun bench/broker-alloc.ts [--before COMMIT] [--rounds N] [--seconds S]
//
// (a) Objects per request, counted with collections held off (tests/helpers/alloc-probe.ts): the same small
//     POST /api/generate 400 times on one connection after 1,500 warm-up requests, JavaScriptCore's live objects by type
//     before and after. It does not depend on the machine's load: the figure to compare changes by while others share
//     the cores.
// (b) One connection, closed loop (wrk, as bench/footprint.ts's "p99 on one connection"): each daemon and the minimal
//     Bun.serve proxy pinned alone on CPU 1, a static nginx upstream and wrk on CPU 0, interleaved rounds, with
//     JavaScriptCore's GC log: collections per 10,000 requests (young and full), their pauses, and the latencies.
// (c) The fixed rate of the tail rows (1,000 GET /api/version a second, bench/lib/open-loop.ts): collections per
//     second. At a fixed rate nearly all of them come from the runtime's collection timers, whose delay grows as fewer
//     bytes are allocated a second, so this count moves with allocations too and not with the machine's load.
// Default --before: e20894b, the tree before this work.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { allocationsPerRequest, generateRequest, NO_COLLECTION_ENV, PROBE_PRELOAD } from "../tests/helpers/alloc-probe.ts";
import { removeHome, startDaemon, type DaemonProc } from "../tests/helpers/daemon.ts";
import { RUNTIME_ENV } from "../src/core/runtime-tuning.ts";
import { beforeArg, beforeTree } from "./lib/before-tree.ts";
import { startStaticUpstream } from "./lib/peers.ts";
import { pin, spawnListening } from "./lib/proc.ts";
import { fixedRateLatencies } from "./lib/fixed-rate.ts";
import { median, pct } from "./lib/stats.ts";
import { wrk } from "./lib/wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const args = Bun.argv.slice(2);
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d);
const ROUNDS = Number(opt("--rounds", "2"));
const SECONDS = Number(opt("--seconds", "4"));
const BEFORE = beforeArg("e20894b")!;
const BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });

/** Collections in a slice of JSC's GC log: how many, how many full, and their pauses. */
export function collections(text: string): { young: number; full: number; pauses: number[] } {
  const out = { young: 0, full: 0, pauses: [] as number[] };
  for (const m of text.matchAll(/=> (\w+)Collection.*?p=([0-9.]+)ms/g)) {
    if (m[1] === "Eden") out.young++;
    else out.full++;
    out.pauses.push(Number(m[2]));
  }
  return out;
}

const before = beforeTree(ROOT, BEFORE);
// That tree's daemon with the heap probe preloaded (its serve.sh runs bun without Bun's own options).
const beforeProbe = join(before.dir, "serve-probe.sh");
writeFileSync(beforeProbe, `#!/bin/sh\nexec "${process.execPath}" ${PROBE_PRELOAD.join(" ")} "${before.main}" "$@"\n`, { mode: 0o755 });
const upstream = await startStaticUpstream();
pin(upstream.pid, 0);
const config = `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[logging]\nrequests = false\n[[upstreams]]\nname = "static"\nurl = "${upstream.url}"\n`;
const started: DaemonProc[] = [];
const daemon = async (binary: string | undefined, env: Record<string, string>, bunArgs: string[] = []) => {
  const d = await startDaemon({ binary, bunArgs, env, config, waitFor: ["api", "broker"] });
  started.push(d);
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${d.urls.broker}/api/tags`).catch(() => null);
    if (r?.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
    await Bun.sleep(100);
  }
  return d;
};
const lines: string[] = [];
const say = (s: string) => (console.log(s), lines.push(s));
try {
  // ---------------------------------------------------------------- (a) objects per request
  say(`(a) objects allocated per small POST /api/generate (400 counted after 1,500 warm; collections held off)\n`);
  say("| broker | objects / request | of them strings | objects | scopes | arrays | promises | functions |");
  say("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const [name, binary, bunArgs] of [["now", undefined, PROBE_PRELOAD], [BEFORE, beforeProbe, []]] as const) {
    const d = await daemon(binary, NO_COLLECTION_ENV, [...bunArgs]);
    const url = d.urls.broker!;
    const c = await allocationsPerRequest(d, url, generateRequest(new URL(url).host, "bench:latest"), 1500, 400);
    const t = (k: string) => (c.byType[k] ?? 0).toFixed(1);
    say(`| ${name} | ${c.cells.toFixed(1)}${c.collections ? ` (${c.collections} collections: low)` : ""} | ${t("string")} | ${t("Object")} | ${t("JSLexicalEnvironment")} | ${t("Array")} | ${t("Promise")} | ${t("Function")} |`);
    await d.stop();
    removeHome(d.home);
    started.splice(started.indexOf(d), 1);
  }

  // ---------------------------------------------------------------- (b) one connection under load
  const gcEnv = { BUN_JSC_logGC: "1" };
  const now = await daemon(undefined, gcEnv);
  const old = await daemon(before.serve, gcEnv);
  const minimal = await spawnListening([process.execPath, join(ROOT, "bench/lib/minimal-proxy.ts"), "--front", "serve", "--upstream", upstream.url], RUNTIME_ENV);
  const subjects = [
    { name: "broker now", url: now.urls.broker!, pid: now.proc.pid, log: () => now.stderr() },
    { name: `broker ${BEFORE}`, url: old.urls.broker!, pid: old.proc.pid, log: () => old.stderr() },
    { name: "minimal Bun.serve proxy", url: minimal.url, pid: minimal.proc.pid, log: () => "" },
  ];
  const rows = new Map(subjects.map((s) => [s.name, [] as { rps: number; p50: number; p99: number; young: number; full: number; pause50: number; pauseMax: number }[]]));
  for (const s of subjects) {
    pin(s.pid, 1);
    await wrk(`${s.url}/api/generate`, BODY, { connections: 32, durationSec: 3, cpu: 0 });
  }
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so neither always follows the other.
    for (const s of r % 2 ? [...subjects].reverse() : subjects) {
      const from = s.log().length;
      const w = await wrk(`${s.url}/api/generate`, BODY, { connections: 1, durationSec: SECONDS, cpu: 0 });
      await Bun.sleep(100);
      const g = collections(s.log().slice(from));
      const sorted = [...g.pauses].sort((a, b) => a - b);
      rows.get(s.name)!.push({ rps: w.rps, p50: w.p50Ms, p99: w.p99Ms, young: (g.young / w.requests) * 1e4, full: (g.full / w.requests) * 1e4, pause50: sorted[sorted.length >> 1] ?? 0, pauseMax: sorted.at(-1) ?? 0 });
    }
  }
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  say(`\n(b) one connection, closed loop, ${ROUNDS} interleaved rounds of ${SECONDS} s (medians); load average ${load} at the end\n`);
  say("| subject | req/s | p50, ms | p99, ms | young collections / 10k requests | full / 10k | pause p50, ms | pause max, ms |");
  say("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const s of subjects) {
    const rs = rows.get(s.name)!;
    const m = (k: keyof (typeof rs)[number]) => median(rs.map((x) => x[k]));
    const gc = s.log() ? `${m("young").toFixed(1)} | ${m("full").toFixed(1)} | ${m("pause50").toFixed(2)} | ${m("pauseMax").toFixed(2)}` : "| | | ";
    say(`| ${s.name} | ${m("rps").toFixed(0)} | ${m("p50").toFixed(2)} | ${m("p99").toFixed(2)} | ${gc} |`);
  }

  // ---------------------------------------------------------------- (c) collections at a fixed rate
  const fixed = new Map(subjects.slice(0, 2).map((s) => [s.name, [] as { perSec: number; p99: number }[]]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 ? subjects.slice(0, 2).reverse() : subjects.slice(0, 2)) {
      const from = s.log().length;
      const t0 = performance.now();
      const lat = await fixedRateLatencies(`${s.url}/api/version`, { rate: 1000, seconds: SECONDS, warmup: 0.5, cpu: 0 });
      const sec = (performance.now() - t0) / 1000;
      const g = collections(s.log().slice(from));
      fixed.get(s.name)!.push({ perSec: (g.young + g.full) / sec, p99: pct(lat, 99) });
    }
  }
  say(`\n(c) 1,000 GET /api/version a second, ${ROUNDS} interleaved rounds of ${SECONDS} s (medians)\n`);
  say("| subject | collections / s | p99, ms |");
  say("|---|---:|---:|");
  for (const [name, rs] of fixed) say(`| ${name} | ${median(rs.map((x) => x.perSec)).toFixed(2)} | ${median(rs.map((x) => x.p99)).toFixed(2)} |`);
  minimal.proc.kill();
} finally {
  for (const d of started) {
    await d.stop();
    removeHome(d.home);
  }
  await upstream.stop();
  before.remove();
}
say(`\nRun ${new Date().toISOString()}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs.`);

// The compiled binary starts with a reluctant JIT (src/core/jit-policy.ts): start-up code stays interpreted, so an idle
// daemon carries none of the JIT's code; the first request brings back the normal policy, so traffic is compiled.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ensureBinary } from "../helpers/binary.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";

let bin: string;
let fake: FakeOllama;
let d: DaemonProc | null = null;
beforeAll(async () => {
  bin = await ensureBinary();
  fake = await startFakeOllama();
}, 180_000);
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
  await fake?.stop();
});

/** The functions JavaScriptCore's first JIT tier has compiled so far (it names each one on stderr with this option). */
const baselineCompiles = (p: DaemonProc) => p.stderr().split("\n").filter((l) => / using Baseline /.test(l));

test("an idle compiled daemon has JIT-compiled nothing of its start-up; its first requests compile the request path as before", async () => {
  d = await startDaemon({
    binary: bin,
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[health]\ninterval = "1s"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
    env: { BUN_JSC_reportBaselineCompileTimes: "1" },
    waitFor: ["api", "broker"],
  });
  // Start-up and a few health checks: at the normal policy the config's defaults walk alone is compiled (walk, visit, valueOrDefault).
  await Bun.sleep(2500);
  expect(baselineCompiles(d)).toEqual([]);
  for (let i = 0; i < 100; i++) expect((await fetch(`${d.urls.broker}/api/version`)).status).toBe(200);
  // noteActivity() runs twice a request: 200 calls reach the normal policy's threshold (about 35 calls), not the start-up
  // policy's (ten times that).
  // The compile and its log line may trail the requests on a busy machine (a JIT thread, the stderr pipe): waited for,
  // with no more requests, so the count stays below the start-up policy's threshold.
  const dp = d;
  // Looked for anywhere in stderr: JavaScriptCore writes a compile's line in pieces ("Optimized ", the function, "using
  // Baseline ..."), and our own log lines (other writes to the same pipe) can land between any two of them. Only its
  // compile log names a function with "#".
  await until(() => dp.stderr().includes("noteActivity#"), 20_000, `noteActivity compiled (log: ${baselineCompiles(dp).join(" | ")})`);
}, 60_000);

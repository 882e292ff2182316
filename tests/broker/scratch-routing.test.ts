import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import { until } from "../helpers/until.ts";

let a: FakeOllama;
let tb: TestBroker;
beforeAll(async () => {
  a = await startFakeOllama({ models: ["m:1b"], tokens: 100, tokenDelayMs: 50 });
  tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"));
  await tb.waitState("a", "up");
});
afterAll(async () => { await tb.stop(); await a.stop(); });

for (const phase of ["mid-stream ndjson", "mid-stream sse", "first byte"]) {
  test(`abort ${phase} frees slot`, async () => {
    const before = a.requests.filter((r) => r.method === "POST").length;
    const ac = new AbortController();
    const stream = phase !== "first byte";
    const sse = phase.includes("sse");
    const r1 = fetch(`${tb.url}${sse ? "/v1/chat/completions" : "/api/chat"}`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [], stream }), signal: ac.signal }).catch((e) => { console.log("r1 err", String(e)); return null as any; });
    let res: Response | null = null;
    if (stream) { res = await r1; const rd = res.body!.getReader(); await rd.read(); }
    else await until(() => a.concurrency.now === 1);
    const t0 = performance.now();
    const r2 = fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [], stream: true }) });
    await until(() => tb.broker.gate.length === 1);
    ac.abort();
    await until(() => a.requests.filter((r) => r.method === "POST").length === before + 2, 3000);
    console.log(phase, "second started after", performance.now() - t0);
    const x = await r2.catch((e) => { console.log("r2 err", String(e)); return null; }); console.log("r2", x?.status); x?.body?.cancel();
    await until(() => a.concurrency.now === 0, 5000);
  });
}

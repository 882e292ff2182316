// An idle broker keeps no timer of its own that wakes it every second (idle CPU, docs/performance.md): the quality
// evaluation is armed by traffic and disarms itself.
import { afterAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let up: FakeOllama;
let b: TestBroker;
afterAll(async () => {
  await b?.stop();
  await up?.stop();
});

/** The broker's quality timer (private: what is checked is that none is armed while idle). */
const armed = () => (b.broker as unknown as { ticker: unknown }).ticker !== null;

test("no quality timer while idle; a request arms one, which evaluates within a second and disarms", async () => {
  up = await startFakeOllama();
  b = await startBroker(upstreamToml("local", up.url));
  await b.waitState("local", "up");
  expect(armed()).toBe(false);
  const r = await fetch(`${b.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) });
  expect(r.status).toBe(200);
  await r.arrayBuffer();
  expect(armed()).toBe(true);
  await Bun.sleep(1300);
  expect(armed()).toBe(false);
  expect(b.broker.upstream("local")!.metrics.totalRequests).toBe(1);
});

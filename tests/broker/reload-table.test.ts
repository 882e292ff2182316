// The routing table is per config version: a request keeps the table it started with through a reload (its aliases,
// its upstreams, even one the reload removed), while requests that start after the reload see the new table.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { holdingUpstream } from "../helpers/holding-upstream.ts";
import { makeConfig, startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let a: FakeOllama;
let b: FakeOllama;
let tb: TestBroker | null = null;

beforeAll(async () => {
  a = await startFakeOllama({ models: ["one:latest", "two:latest"], tokens: 1 });
  b = await startFakeOllama({ models: ["one:latest", "two:latest"], tokens: 1 });
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});
afterEach(async () => {
  await tb?.stop();
  tb = null;
});

const enc = new TextEncoder();
const alias = (model: string) => `[[aliases]]\nname = "x"\nmodel = "${model}"\n`;

test("a reload while a request's body is still arriving: that request keeps its table (old alias, removed upstream); the next one sees the new", async () => {
  tb = await startBroker(upstreamToml("a", a.url) + alias("one:latest"));
  await tb.waitState("a", "up");
  const v1 = tb.config;
  // The body arrives in two parts: the first (past the 64 KiB every body may hold outside the replay budget) names the
  // model; the rest is sent only after the reload. The budget's bytes say the broker is reading this body.
  let finish!: () => void;
  const rest = new Promise<void>((r) => (finish = r));
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(enc.encode(`{"model":"x","stream":false,"prompt":"${"a".repeat(100_000)}`));
      await rest;
      c.enqueue(enc.encode(`"}`));
      c.close();
    },
  });
  const before = a.requests.length;
  const pending = fetch(`${tb.url}/api/generate`, { method: "POST", body, duplex: "half" } as RequestInit);
  await until(() => tb!.broker.replay.held > 0, 5000, "the broker to be reading the body");

  // The reload: upstream a removed, b added, the alias now stands for another model.
  const v2 = makeConfig(upstreamToml("b", b.url) + alias("two:latest"));
  await tb.broker.apply(v2, v1);
  finish();
  const r1 = await pending;
  expect(r1.status).toBe(200);
  await r1.arrayBuffer();
  const got1 = a.requests.slice(before).filter((x) => x.path === "/api/generate");
  expect(got1.map((x) => (x.json as { model: string }).model)).toEqual(["one:latest"]);
  expect(b.requests.filter((x) => x.path === "/api/generate")).toEqual([]);

  // A request that starts now: the new table's alias and upstream.
  const r2 = await fetch(`${tb.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "x", prompt: "hi", stream: false }) });
  expect(r2.status).toBe(200);
  await r2.arrayBuffer();
  expect(b.requests.filter((x) => x.path === "/api/generate").map((x) => (x.json as { model: string }).model)).toEqual(["two:latest"]);
  expect(a.requests.slice(before).filter((x) => x.path === "/api/generate").length).toBe(1);
  // The status API shows the new version's upstreams only.
  expect(tb.broker.upstreams().map((u) => u.name)).toEqual(["b"]);
});

test("an upstream whose config did not change keeps its object (state, metrics) across a reload", async () => {
  tb = await startBroker(upstreamToml("a", a.url) + alias("one:latest"));
  await tb.waitState("a", "up");
  const r = await fetch(`${tb.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "x", prompt: "hi", stream: false }) });
  await r.arrayBuffer();
  expect(tb.broker.upstream("a")!.metrics.requests).toBe(1);
  await tb.broker.apply(makeConfig(upstreamToml("a", a.url) + upstreamToml("b", b.url) + alias("two:latest")), tb.config);
  // Still up (no new health check needed) and still counting the request made before the reload.
  expect(tb.broker.upstream("a")!.state).toBe("up");
  expect(tb.broker.upstream("a")!.metrics.requests).toBe(1);
});

test("max_parallel raised by a reload while requests wait for a slot: they start at once, and so does the next one", async () => {
  const held = holdingUpstream();
  try {
    tb = await startBroker(upstreamToml("h", held.url, "max_parallel = 1"));
    await tb.waitState("h", "up");
    const gen = () => fetch(`${tb!.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "hi", stream: true }) });
    const before = [gen(), gen(), gen()];
    await until(() => held.open === 1 && tb!.broker.gate.length === 2, 5000, "one request running, two waiting");
    // Before: the two waited for the running one to end (minutes, for a generation), then went one at a time.
    await tb.broker.apply(makeConfig(upstreamToml("h", held.url, "max_parallel = 4")), tb.config);
    await until(() => held.open === 3, 5000, "the two waiting to start");
    const after = gen();
    await until(() => held.open === 4, 5000, "a request made after the reload to start");
    held.releaseAll();
    for (const r of await Promise.all([...before, after])) {
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
  } finally {
    held.stop();
  }
});

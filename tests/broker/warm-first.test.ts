// Warm-first routing through a real broker: the health checks read each upstream's /api/ps, and a request goes to the
// upstream that has its model loaded, ahead of a preferred upstream that would have to load it.
import { afterAll, expect, test } from "bun:test";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml } from "./harness.ts";
import { until } from "../helpers/until.ts";

// The fake answers /api/ps with the first model in its list as the loaded one.
const cold = await startFakeOllama({ models: ["other:1b", "m:1b"], tokens: 1 });
const warm = await startFakeOllama({ models: ["m:1b"], tokens: 1 });
afterAll(async () => {
  await cold.stop();
  await warm.stop();
});

test("the upstream with the model in memory is asked first, though another has the better priority", async () => {
  const tb = await startBroker(upstreamToml("cold", cold.url, "priority = 1") + upstreamToml("warm", warm.url, "priority = 2"));
  try {
    await tb.waitState("cold", "up");
    await tb.waitState("warm", "up");
    expect(warm.requests.some((r) => r.path === "/api/ps")).toBe(true);
    const chat = (model: string) => fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model, messages: [], stream: false }) }).then((r) => r.status);
    expect(await chat("m:1b")).toBe(200);
    expect(warm.requests.filter((r) => r.path === "/api/chat").length).toBe(1);
    expect(cold.requests.filter((r) => r.path === "/api/chat").length).toBe(0);
    // A model only the other upstream serves goes there.
    expect(await chat("other:1b")).toBe(200);
    expect(cold.requests.filter((r) => r.path === "/api/chat").length).toBe(1);
  } finally {
    await tb.stop();
  }
});

test("the loaded state is refreshed with each check: once the model moves, the next request follows it", async () => {
  const a = await startFakeOllama({ models: ["m:1b"], loaded: ["m:1b"], tokens: 1 });
  const b = await startFakeOllama({ models: ["m:1b"], loaded: [], tokens: 1 });
  const tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("a", a.url, "priority = 2") + upstreamToml("b", b.url, "priority = 1"));
  try {
    await tb.waitState("a", "up");
    await tb.waitState("b", "up");
    const chat = () => fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [], stream: false }) }).then((r) => r.status);
    const asked = () => [a, b].map((f) => f.requests.filter((r) => r.path === "/api/chat").length);
    await until(() => (tb.broker.upstream("a")!.loaded ?? []).includes("m:1b"));
    expect(await chat()).toBe(200);
    expect(asked()).toEqual([1, 0]);
    // Ollama unloads it on a (keep_alive ran out) and b loads it for another client.
    a.options.loaded = [];
    b.options.loaded = ["m:1b"];
    await tb.broker.check("a");
    await tb.broker.check("b");
    await until(() => (tb.broker.upstream("b")!.loaded ?? []).includes("m:1b") && !(tb.broker.upstream("a")!.loaded ?? []).includes("m:1b"));
    expect(await chat()).toBe(200);
    expect(asked()).toEqual([1, 1]);
  } finally {
    await tb.stop();
    await a.stop();
    await b.stop();
  }
});


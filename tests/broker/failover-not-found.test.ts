// Failover that ends at an upstream without the model: the client gets the failure of the upstream that has it, not
// the other's "model not found" (which sends a user to `ollama pull` when the upstream holding the model crashed).
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

let holder: FakeOllama;
let other: FakeOllama;
let d: DaemonProc;
let broker: string;

beforeAll(async () => {
  // The model's only upstream answers 503 (Ollama's "server busy"; a runner that died answers 500 the same way).
  holder = await startFakeOllama({ models: ["m:1b"], tokens: 3, failWith503: true });
  // A server that checks the names it is sent (vLLM answers 404 for a model it does not serve), so it is tried next.
  other = await startFakeOllama({ models: ["x:1b"], tokens: 3, kind: "vllm" });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "holder"\nurl = "${holder.url}"\n[[upstreams]]\nname = "other"\nkind = "vllm"\nurl = "${other.url}"\n`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  await untilUpstreamsUp(d, await apiToken(d), 2);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await holder?.stop();
  await other?.stop();
  if (d) removeHome(d.home);
});

async function thrown(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call succeeded");
}

test("the model's upstream fails and the next one lacks the model: 502 with the first failure, in each client's dialect, not a 404", async () => {
  const o = await thrown(new Ollama({ host: broker }).chat({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false }));
  expect(o.status_code).toBe(502);
  expect(o.message).toContain('upstream "holder" answered 503');
  expect(o.message).toContain('upstream "other" does not have the model "m:1b"');
  const c = await thrown(new OpenAI({ baseURL: `${broker}/v1`, apiKey: "ollama", maxRetries: 0 }).chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }] }));
  expect(c).toBeInstanceOf(OpenAI.InternalServerError);
  expect(c.status).toBe(502);
  expect(c.code).toBe("upstream_error");
  const a = await thrown(new Anthropic({ baseURL: broker, apiKey: "local", maxRetries: 0 }).messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
  expect(a).toBeInstanceOf(Anthropic.InternalServerError);
  expect(a.status).toBe(502);
  // Both were asked: the other upstream's 404 is why its answer is not the client's.
  expect(other.requests.some((r) => r.path === "/v1/chat/completions")).toBe(true);
});

test("a model no upstream has is still the upstream's own 404", async () => {
  const o = await thrown(new Ollama({ host: broker }).chat({ model: "nowhere:1b", messages: [{ role: "user", content: "hi" }], stream: false }));
  expect(o.status_code).toBe(404);
});

// OpenAI streams: the broker asks the upstream for usage (stream_options.include_usage) to account tokens, and takes
// that extra event out unless the client asked for it too; the client's other fields reach the upstream unchanged.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import type { RequestRecord } from "../../src/core/contracts.ts";

let f: FakeOllama;
let tb: TestBroker | null = null;
beforeAll(async () => {
  f = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
});
afterAll(() => f.stop());
afterEach(async () => {
  await tb?.stop();
  tb = null;
});

const lastRecord = (t: TestBroker) => t.seen.filter((e) => e.type === "request.completed").at(-1)!.data as RequestRecord;
const lastBody = () => f.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!.json as Record<string, unknown>;

test("a stream without include_usage: asked upstream, stripped for the client, counted", async () => {
  tb = await startBroker(upstreamToml("local", f.url));
  await tb.waitState("local", "up");
  const sent = { model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true, temperature: 0.2, x_extra: [1] };
  const r = await fetch(`${tb.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(sent) });
  const text = await r.text();
  expect(lastBody()).toEqual({ ...sent, stream_options: { include_usage: true } });
  expect(text).not.toContain('"usage"');
  expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  expect(text.match(/^data: \{/gm)!.length).toBe(4); // three tokens and the finish event
  await Bun.sleep(20);
  expect(lastRecord(tb)).toMatchObject({ promptTokens: 7, completionTokens: 3 });
  // The official client reads the stripped stream as a whole answer.
  const oa = new OpenAI({ baseURL: `${tb.url}/v1`, apiKey: "ollama", maxRetries: 0 });
  let content = "";
  for await (const c of await oa.chat.completions.create({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true })) content += c.choices[0]?.delta?.content ?? "";
  expect(content.length).toBeGreaterThan(0);
});

test("a stream that asks for usage gets it, as the upstream sent it", async () => {
  tb = await startBroker(upstreamToml("local", f.url));
  await tb.waitState("local", "up");
  const sent = { model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } };
  const text = await (await fetch(`${tb.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(sent) })).text();
  expect(lastBody()).toEqual(sent);
  expect(text).toContain('"usage":{"prompt_tokens":7,"completion_tokens":3');
  await Bun.sleep(20);
  expect(lastRecord(tb)).toMatchObject({ promptTokens: 7, completionTokens: 3 });
});

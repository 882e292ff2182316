// The official `ollama` and `openai` npm clients, pointed at the broker: list, chat, stream and abort.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let up: FakeOllama;
let tb: TestBroker;

beforeAll(async () => {
  up = await startFakeOllama({ models: ["llama3.2:1b", "qwen2.5:0.5b"], tokens: 4 });
  tb = await startBroker(upstreamToml("local", up.url));
  await tb.waitState("local", "up");
});
afterAll(async () => {
  await tb.stop();
  await up.stop();
});

test("ollama client: list, chat, stream, abort", async () => {
  const ollama = new Ollama({ host: tb.url });
  const list = await ollama.list();
  expect(list.models.map((m) => m.name).sort()).toEqual(["llama3.2:1b", "qwen2.5:0.5b"]);

  const r = await ollama.chat({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] });
  expect(r.message.content).toBe("tok0 tok1 tok2 tok3 ");
  expect(r.eval_count).toBe(4);

  let text = "";
  let last: { done: boolean; eval_count?: number } | null = null;
  for await (const part of await ollama.generate({ model: "llama3.2:1b", prompt: "hi", stream: true })) {
    text += part.response;
    last = part;
  }
  expect(text).toBe("tok0 tok1 tok2 tok3 ");
  expect(last).toMatchObject({ done: true, eval_count: 4 });

  up.options.tokens = 1000;
  up.options.tokenDelayMs = 10;
  try {
    const before = up.aborts.length;
    const stream = await ollama.chat({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true });
    let parts = 0;
    const err = await (async () => {
      try {
        for await (const _ of stream) if (++parts === 2) stream.abort();
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err?.name).toBe("AbortError");
    // The client still hands out the parts it had parsed before the abort (more of them on a loaded machine).
    expect(parts).toBeGreaterThanOrEqual(2);
    await up.waitForAborts(before + 1, 2000);
  } finally {
    up.options.tokens = 4;
    up.options.tokenDelayMs = 0;
  }
});

test("openai client: list, chat, stream with usage, abort", async () => {
  const openai = new OpenAI({ baseURL: `${tb.url}/v1`, apiKey: "not-forwarded", maxRetries: 0 });
  const models = [];
  for await (const m of openai.models.list()) models.push(m.id);
  expect(models.sort()).toEqual(["llama3.2:1b", "qwen2.5:0.5b"]);

  const c = await openai.chat.completions.create({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "hi" }] });
  expect(c.choices[0]!.message.content).toBe("tok0 tok1 tok2 tok3 ");
  expect(c.usage?.completion_tokens).toBe(4);

  const s = await openai.chat.completions.create({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } });
  let text = "";
  let usage: OpenAI.CompletionUsage | null | undefined = null;
  for await (const chunk of s) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  expect(text).toBe("tok0 tok1 tok2 tok3 ");
  expect(usage?.completion_tokens).toBe(4);
  expect(up.requests.filter((r) => r.path.startsWith("/v1/")).every((r) => r.headers.authorization === undefined)).toBe(true);

  up.options.tokens = 1000;
  up.options.tokenDelayMs = 10;
  try {
    const before = up.aborts.length;
    const stream = await openai.chat.completions.create({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "hi" }], stream: true });
    let parts = 0;
    const err = await (async () => {
      try {
        for await (const _ of stream) if (++parts === 2) stream.controller.abort();
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(parts).toBe(2);
    // openai-node ends an aborted stream quietly or with APIUserAbortError, depending on where the abort lands.
    if (err) expect(err.constructor.name).toMatch(/Abort/);
    await up.waitForAborts(before + 1, 2000);
  } finally {
    up.options.tokens = 4;
    up.options.tokenDelayMs = 0;
  }
  // Tokens per second were read from the done lines and usage objects.
  expect(tb.broker.upstream("local")!.metrics.tokensPerSec).toBeGreaterThan(0);
});

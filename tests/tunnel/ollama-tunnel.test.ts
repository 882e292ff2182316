// Ollama's API through a real relay and daemon with the official `ollama` client, translated for an OpenAI-only upstream:
// chat and a chat stream, embed (and the openai client's base64 embeddings), abort reaching the upstream, an unknown model in Ollama's error shape; /api/version
// and /api/show answered by the broker.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { OLLAMA_API_VERSION } from "../../src/broker/dialects/ollama/metadata-plan.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let plain: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  plain = await startFakeOllama({ models: ["qwen2.5:0.5b"], tokens: 3, kind: "openai" });
  relay = await startRelayProc(relayToml());
  // daemonToml's upstream "fake" is of the default kind (Ollama); this one is OpenAI-only.
  const toml = daemonToml({ upstream: plain.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }).replace('name = "fake"\n', 'name = "fake"\nkind = "openai"\n');
  daemon = await startAgentDaemon(toml);
}, 40_000);
afterAll(async () => {
  await daemon?.stop();
  await relay?.stop();
  await plain?.stop();
  cleanup(relay?.dir, daemon?.home);
});

const ollama = () => new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: { authorization: `Bearer ${CLIENT_KEY}` } });

test("chat, a chat stream and embed, translated for the OpenAI-only upstream, through the tunnel", async () => {
  const r = await ollama().chat({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "hi" }], options: { num_predict: 2 }, stream: false });
  expect(r).toMatchObject({ message: { role: "assistant", content: "tok0 tok1 " }, done: true, eval_count: 2, prompt_eval_count: 7 });
  expect(plain.requests.at(-1)!.path).toBe("/v1/chat/completions");
  const parts: string[] = [];
  let last: any = null;
  for await (const p of await ollama().chat({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "hi" }], options: { num_predict: 3 }, stream: true })) {
    if (p.done) last = p;
    else parts.push(p.message.content);
  }
  expect(parts).toEqual(["tok0 ", "tok1 ", "tok2 "]);
  expect(last).toMatchObject({ done: true, done_reason: "stop", eval_count: 3 });
  expect((await ollama().embed({ model: "qwen2.5:0.5b", input: "x" })).embeddings).toEqual([[0.1, 0.2, 0.3]]);
  expect(plain.requests.at(-1)!.path).toBe("/v1/embeddings");
});

test("embeddings from both clients, straight and through the tunnel: the openai client's base64 (its default) decoded to the vectors, dimensions kept; the ollama client's input array translated with its dimensions", async () => {
  for (const base of [daemon.urls.broker!, `${relay.url}/t/${TUNNEL_ID}`]) {
    const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    const r = await openai.embeddings.create({ model: "qwen2.5:0.5b", input: ["a", "b"], dimensions: 2 });
    expect(plain.requests.at(-1)!.json).toMatchObject({ input: ["a", "b"], dimensions: 2, encoding_format: "base64" });
    expect(r.data.map((d) => d.index)).toEqual([0, 1]);
    for (const d of r.data) expect(Array.from(d.embedding)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    const floats = await openai.embeddings.create({ model: "qwen2.5:0.5b", input: "a", encoding_format: "float" });
    expect(floats.data[0]!.embedding).toEqual([0.1, 0.2, 0.3]);
    const ollama = new Ollama({ host: base, headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    const e = await ollama.embed({ model: "qwen2.5:0.5b", input: ["a", "b", "c"], dimensions: 2 });
    expect(plain.requests.at(-1)!.json).toMatchObject({ input: ["a", "b", "c"], dimensions: 2, encoding_format: "float" });
    expect(e.embeddings).toEqual([[0.1, 0.2], [0.1, 0.2], [0.1, 0.2]]);
  }
});

test("`ollama stop` through the tunnel (generate, empty prompt, keep_alive 0) is answered done_reason unload; no completion loads the model", async () => {
  const before = plain.requests.filter((r) => r.path === "/v1/chat/completions").length;
  const r = await ollama().generate({ model: "qwen2.5:0.5b", prompt: "", keep_alive: 0, stream: false });
  expect(r).toMatchObject({ model: "qwen2.5:0.5b", done: true, done_reason: "unload", response: "" });
  expect(plain.requests.filter((r) => r.path === "/v1/chat/completions").length).toBe(before);
});

test("abort through the tunnel reaches the upstream", async () => {
  const before = plain.aborts.length;
  plain.options.tokenDelayMs = 30;
  try {
    const s = await ollama().chat({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "long" }], options: { num_predict: 500 }, stream: true });
    for await (const p of s) if (p.message.content) break;
    s.abort();
    await plain.waitForAborts(before + 1);
    expect(plain.aborts.at(-1)!.path).toBe("/v1/chat/completions");
  } finally {
    plain.options.tokenDelayMs = 0;
  }
});

test("an unknown model through the tunnel is a ResponseError in Ollama's shape", async () => {
  const e = (await ollama().chat({ model: "nope:9b", messages: [{ role: "user", content: "hi" }], stream: false }).catch((x) => x)) as any;
  expect(e.name).toBe("ResponseError");
  expect(e.status_code).toBe(404);
  expect(e.error).toContain("nope:9b");
});

test("version() and show() through the tunnel: the broker's answers in Ollama's shape for the OpenAI-only upstream", async () => {
  expect(await ollama().version()).toEqual({ version: OLLAMA_API_VERSION });
  const s = await ollama().show({ model: "qwen2.5:0.5b" });
  expect(s.capabilities).toEqual(["completion"]);
  expect(s.details.parameter_size).toBe("");
  expect(plain.requests.at(-1)).toMatchObject({ method: "GET", path: "/v1/models" });
  const e = (await ollama().show({ model: "nope:9b" }).catch((x) => x)) as any;
  expect(e.status_code).toBe(404);
  expect(e.error).toBe("model 'nope:9b' not found");
});

// A stream the client aborts is counted by the content it got, in each dialect: through a real daemon, the official
// clients aborting after N content events of a stream that stalls there, the key's usage and the Prometheus token
// count say N — not one per SSE event (message_start, ping, content_block_start, response.created, a role-only chunk).
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, keyUsage, removeHome, startDaemon, untilCounted, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let native: FakeOllama;
let plain: FakeOllama;
let d: DaemonProc;
let broker: string;
let token: string;
const keys: Record<string, string> = {};
/** Content events the client reads before it aborts; the fakes send no more than these (stallAfterTokens). */
const N = 6;
/** The prompt count the fakes state (message_start's input_tokens, usage.prompt_tokens). */
const FAKE_PROMPT = 7;

// "native:1b" is served by an Ollama-kind upstream (Ollama, /v1/messages and /v1/responses natively); "plain:1b" by a
// generic OpenAI-compatible one (Messages and Responses translated), whose chat stream opens with a role-only chunk.
beforeAll(async () => {
  native = await startFakeOllama({ models: ["native:1b"], tokens: 100, stallAfterTokens: N });
  plain = await startFakeOllama({ models: ["plain:1b"], tokens: 100, stallAfterTokens: N, kind: "openai", roleChunk: true });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "native"\nkind = "ollama"\nurl = "${native.url}"\n[[upstreams]]\nname = "plain"\nkind = "openai"\nurl = "${plain.url}"\n`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = await apiToken(d);
  for (const name of ["msgnative", "msgplain", "resnative", "resplain", "chat", "ollama"]) keys[name] = createKey(d, name, "--tokens-per-day", "100000");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": keys.chat! } })).status === 200, 5000, "the daemon to see the keys");
  await untilUpstreamsUp(d, token, 2);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await native?.stop();
  await plain?.stop();
  if (d) removeHome(d.home);
});

/** The tokens Prometheus says an upstream generated (every source). */
async function promTokens(upstream: string): Promise<number> {
  const text = await (await fetch(`${d.urls.api}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^cloudtolocalllm_broker_generated_tokens_total\{upstream="([^"]+)"[^}]*\} (\d+)$/gm)) if (m[1] === upstream) n += Number(m[2]);
  return n;
}

/** Runs an aborted stream for `key` on `upstream`, and returns what the key's usage and Prometheus added for it. */
async function counted(key: string, upstream: string, run: () => Promise<number>): Promise<{ read: number; completion: number; prompt: number; metrics: number }> {
  const before = await keyUsage(d, token, key);
  const prom = await promTokens(upstream);
  const read = await run();
  const after = await untilCounted(d, token, key, before.requests + 1);
  // The ledger and Prometheus are written in the same step (Exchange.finish): the metric is there with the usage.
  return { read, completion: after.completion_tokens - before.completion_tokens, prompt: after.prompt_tokens - before.prompt_tokens, metrics: (await promTokens(upstream)) - prom };
}

const anthropic = (key: string) => new Anthropic({ baseURL: broker, apiKey: keys[key]!, maxRetries: 0 });
const openai = (key: string) => new OpenAI({ baseURL: `${broker}/v1`, apiKey: keys[key]!, maxRetries: 0 });

/** Reads a stream until it has `n` content events, then aborts it; the content events read. */
async function abortAfter<E>(events: AsyncIterable<E>, isContent: (e: E) => boolean, abort: () => void): Promise<number> {
  let read = 0;
  try {
    for await (const e of events) if (isContent(e) && ++read === N) abort();
  } catch (e) {
    if (!/abort/i.test(String((e as Error)?.name) + String((e as Error)?.message))) throw e;
  }
  return read;
}

for (const [label, key, model, upstream] of [
  ["passed through", "msgnative", "native:1b", "native"],
  ["translated", "msgplain", "plain:1b", "plain"],
] as const) {
  test(`Anthropic Messages (${label}): a stream aborted after ${N} text deltas counts ${N} tokens, not its message_start, ping and content_block_start`, async () => {
    const c = await counted(key, upstream, async () => {
      const s = anthropic(key).messages.stream({ model, max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
      return abortAfter(s, (e) => e.type === "content_block_delta", () => s.abort());
    });
    expect(c).toMatchObject({ read: N, completion: N, metrics: N });
    // The prompt's count the upstream gave in message_start wins over the estimate from the body's size.
    if (upstream === "native") expect(c.prompt).toBe(FAKE_PROMPT);
    else expect(c.prompt).toBeGreaterThan(0);
  }, 20_000);
}

for (const [label, key, model, upstream] of [
  ["passed through", "resnative", "native:1b", "native"],
  ["translated", "resplain", "plain:1b", "plain"],
] as const) {
  test(`OpenAI Responses (${label}): a stream aborted after ${N} output_text deltas counts ${N} tokens, not response.created and the items added`, async () => {
    const c = await counted(key, upstream, async () => {
      const s = openai(key).responses.stream({ model, input: "hi" });
      return abortAfter(s, (e) => e.type === "response.output_text.delta", () => s.abort());
    });
    expect(c).toMatchObject({ read: N, completion: N, metrics: N });
  }, 20_000);
}

test(`OpenAI chat: a stream aborted (AbortController) after ${N} content chunks counts ${N} tokens, not its role-only first chunk`, async () => {
  const c = await counted("chat", "plain", async () => {
    const ac = new AbortController();
    const s = await openai("chat").chat.completions.create({ model: "plain:1b", messages: [{ role: "user", content: "hi" }], stream: true }, { signal: ac.signal });
    return abortAfter(s, (e) => !!e.choices[0]?.delta?.content, () => ac.abort());
  });
  expect(c).toMatchObject({ read: N, completion: N, metrics: N });
}, 20_000);

test(`Ollama chat: a stream aborted after ${N} parts counts ${N} tokens`, async () => {
  const c = await counted("ollama", "native", async () => {
    const s = await new Ollama({ host: broker, headers: { Authorization: `Bearer ${keys.ollama}` } }).chat({ model: "native:1b", messages: [{ role: "user", content: "hi" }], stream: true });
    return abortAfter(s, (p) => p.message.content !== "", () => s.abort());
  });
  expect(c).toMatchObject({ read: N, completion: N, metrics: N });
}, 20_000);

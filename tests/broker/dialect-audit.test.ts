// Attacks on what the docs promise about dialects and upstream kinds, through a real daemon with the official clients:
// whole answers counted by their own usage (not a number in data the upstream echoed, nor lost behind fields after it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let vllm: FakeOllama;
let d: DaemonProc;
let broker: string;
let token: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  vllm = await startFakeOllama({ models: ["v:1b"], tokens: 40, kind: "vllm" });
  d = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[[upstreams]]
name = "vllm"
kind = "vllm"
url = "${vllm.url}"
`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = await apiToken(d);
  for (const name of ["logprobs", "echo"]) keys[name] = createKey(d, name, "--tokens-per-day", "100000");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": keys.echo! } })).status !== 401, 5000, "the daemon to see the keys");
  await untilUpstreamsUp(d, token, 1);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await vllm?.stop();
  if (d) removeHome(d.home);
});

interface Totals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}
const usage = async (key: string): Promise<Totals> =>
  ((await (await fetch(`${d.urls.api}/api/v1/usage?key=${key}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: Totals }).totals;
const counted = async (key: string, n: number): Promise<Totals> => {
  await until(async () => (await usage(key)).requests >= n, 5000, `request ${n} of "${key}" to be counted`);
  return usage(key);
};
const openai = (key: string) => new OpenAI({ baseURL: `${broker}/v1`, apiKey: key, maxRetries: 0 });

describe("a whole (not streamed) answer is counted by its own usage", () => {
  test("vLLM's prompt_logprobs after the usage of a chat completion do not make it free", async () => {
    // Tens of KiB of prompt log probabilities after "usage": its numbers are far from the end of the answer.
    const r = await openai(keys.logprobs!).chat.completions.create({ model: "v:1b", messages: [{ role: "user", content: "a long prompt ".repeat(60) }], prompt_logprobs: 5 } as never);
    expect(r.usage?.completion_tokens).toBe(40);
    expect(JSON.stringify(r).length).toBeGreaterThan(20_000);
    let t = await counted("logprobs", 1);
    expect(t.completion_tokens).toBe(40);
    expect(t.prompt_tokens).toBe(7);
    // Over the 256 KiB an answer is held whole: relayed as it comes, and counted by an estimate (one token per 4 bytes), never free.
    const big = await openai(keys.logprobs!).chat.completions.create({ model: "v:1b", messages: [{ role: "user", content: "a long prompt ".repeat(600) }], prompt_logprobs: 5 } as never);
    const size = JSON.stringify(big).length;
    expect(size).toBeGreaterThan(256 * 1024);
    t = await counted("logprobs", 2);
    expect(t.completion_tokens - 40).toBeGreaterThanOrEqual(Math.floor(size / 4) - 1000);
  });

  test("a Responses answer echoing the client's tools cannot forge its count with a usage key in them", async () => {
    // OpenAI's response object echoes the request's tools; a schema's default may hold any key, "eval_count": 0 too.
    const tools = [{ type: "function" as const, name: "f", strict: false, parameters: { type: "object", properties: {}, default: { eval_count: 0, prompt_eval_count: 0 } } }];
    const r = await openai(keys.echo!).responses.create({ model: "v:1b", input: "hi", tools });
    expect(r.usage?.output_tokens).toBe(40);
    const t = await counted("echo", 1);
    expect(t.completion_tokens).toBe(40);
    expect(t.prompt_tokens).toBe(7);
  });
});

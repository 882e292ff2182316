// OpenAI's Responses API (/v1/responses) through a real daemon with the official openai client: passed through to an
// upstream whose kind serves it (stream and not, usage counted, abort reaching it), a 501 in OpenAI's shape where none does.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { BUN, removeHome, REPO, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let native: FakeOllama;
let plain: FakeOllama;
let both: DaemonProc;
let onlyPlain: DaemonProc;
let token: string;
let meter: string;

const daemonConfig = (ups: string) => `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${ups}`;
const upstream = (name: string, kind: string, url: string, priority: number) => `[[upstreams]]\nname = "${name}"\nkind = "${kind}"\nurl = "${url}"\npriority = ${priority}\n`;

beforeAll(async () => {
  // "llama3.2:1b" not loaded on the Ollama one (its /api/ps lists the first model): warm-first does not pick it either.
  native = await startFakeOllama({ models: ["other:1b", "llama3.2:1b"], tokens: 3 });
  plain = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3, kind: "openai" });
  // The OpenAI-only upstream first by priority: a Responses request must still go to the one that serves it.
  [both, onlyPlain] = await Promise.all([
    startDaemon({ config: daemonConfig(upstream("plain", "openai", plain.url, 1) + upstream("native", "ollama", native.url, 50)), waitFor: ["api", "broker"] }),
    startDaemon({ config: daemonConfig(upstream("plain", "openai", plain.url, 1)), waitFor: ["api", "broker"] }),
  ]);
  token = (await Bun.file(join(both.home, ".config/cloudtolocalllm/api-token")).text()).trim();
  meter = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", "meter"], { env: both.env, stdout: "pipe" }).stdout.toString().trim();
  await until(async () => (await fetch(`${both.urls.broker}/v1/models`, { headers: { "x-api-key": meter } })).status === 200, 5000, "the daemon to see the key");
}, 40_000);
afterAll(async () => {
  await Promise.all([both?.stop(), onlyPlain?.stop()]);
  await native?.stop();
  await plain?.stop();
  for (const d of [both, onlyPlain]) if (d) removeHome(d.home);
});

const openai = (d: DaemonProc, apiKey = "local") => new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey, maxRetries: 0 });

describe("passed through to the upstream whose kind serves it", () => {
  test("responses.create: the answer's output_text and usage, and the OpenAI-only upstream never asked", async () => {
    const plainBefore = plain.requests.filter((r) => r.path === "/v1/responses").length;
    const r = await openai(both).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 4 });
    expect(r.object).toBe("response");
    expect(r.status).toBe("completed");
    expect(r.output_text).toBe("tok0 tok1 tok2 tok3 ");
    expect(r.usage).toMatchObject({ input_tokens: 7, output_tokens: 4 });
    expect(native.requests.at(-1)).toMatchObject({ path: "/v1/responses", json: { model: "llama3.2:1b", input: "hi", max_output_tokens: 4 } });
    expect(plain.requests.filter((r) => r.path === "/v1/responses").length).toBe(plainBefore);
  });

  test("responses.create stream: the text deltas and response.completed", async () => {
    const s = await openai(both).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 3, stream: true });
    let text = "";
    let completed: OpenAI.Responses.Response | null = null;
    for await (const ev of s) {
      if (ev.type === "response.output_text.delta") text += ev.delta;
      if (ev.type === "response.completed") completed = ev.response;
    }
    expect(text).toBe("tok0 tok1 tok2 ");
    expect(completed!.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
  });

  test("usage of both (stream and not) counted in /api/v1/usage", async () => {
    const usage = async () =>
      ((await (await fetch(`${both.urls.api}/api/v1/usage?key=meter`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { requests: number; prompt_tokens: number; completion_tokens: number } }).totals;
    const before = await usage();
    await openai(both, meter).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 2 });
    for await (const _ of await openai(both, meter).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 5, stream: true }));
    await until(async () => (await usage()).requests === before.requests + 2, 5000, "both counted");
    expect(await usage()).toMatchObject({ prompt_tokens: before.prompt_tokens + 14, completion_tokens: before.completion_tokens + 7 });
  });

  test("abort: leaving a stream reaches the upstream", async () => {
    const before = native.aborts.length;
    native.options.tokenDelayMs = 30;
    try {
      const s = await openai(both).responses.create({ model: "llama3.2:1b", input: "long", max_output_tokens: 500, stream: true });
      for await (const ev of s) if (ev.type === "response.output_text.delta") break;
      await native.waitForAborts(before + 1);
      expect(native.aborts.at(-1)!.path).toBe("/v1/responses");
    } finally {
      native.options.tokenDelayMs = 0;
    }
  });
});

test("no upstream whose kind serves it: a 501 in OpenAI's shape, read by the client as an APIError; nothing sent upstream", async () => {
  const before = plain.requests.length;
  let err: unknown = null;
  try {
    await openai(onlyPlain).responses.create({ model: "llama3.2:1b", input: "hi" });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OpenAI.APIError);
  const e = err as InstanceType<typeof OpenAI.APIError>;
  expect(e.status).toBe(501);
  expect(e.code).toBe("not_implemented");
  expect(e.type).toBe("server_error");
  expect(e.message).toContain("/v1/responses");
  expect(plain.requests.slice(before).filter((r) => r.path === "/v1/responses")).toEqual([]);
  // Chat completions on the same daemon still work.
  expect((await openai(onlyPlain).chat.completions.create({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] })).choices.length).toBe(1);
});

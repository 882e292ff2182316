// A request is never sent to an upstream that would run another model than the one it names: llama.cpp with one model
// runs it whatever the request's "model" says (its server only echoes the name), so an upstream of that kind whose list
// does not name the model is not tried for a key with a model list. Else such a key ran the llama.cpp model by naming an
// allowed model nobody has, or by asking for an allowed model while its own upstream was down.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let ollama: FakeOllama;
let coder: FakeOllama;
let d: DaemonProc;
let broker: string;
let token: string;
let only: string;

beforeAll(async () => {
  ollama = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 2 });
  // The model reserved for other keys, on a llama.cpp server preferred by priority.
  coder = await startFakeOllama({ models: ["coder:32b"], tokens: 2, kind: "llamacpp" });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[health]\ninterval = "1s"\nfailures_before_down = 1\n[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\npriority = 100\n[[upstreams]]\nname = "coder"\nkind = "llamacpp"\nurl = "${coder.url}"\npriority = 1\n`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = await apiToken(d);
  only = createKey(d, "only", "--models", "llama3*");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": only } })).status === 200, 5000, "the daemon to see the key");
  await untilUpstreamsUp(d, token, 2);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await ollama?.stop();
  await coder?.stop();
  if (d) removeHome(d.home);
});

const coderRuns = () => coder.requests.filter((r) => r.path === "/v1/chat/completions").length;
async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    return (e as { status?: number; status_code?: number }).status ?? (e as { status_code?: number }).status_code ?? 0;
  }
}

test("a key limited to llama3* cannot run the llama.cpp model by naming a llama3 model nobody has: 404, llama.cpp never asked", async () => {
  const before = coderRuns();
  const oa = new OpenAI({ baseURL: `${broker}/v1`, apiKey: only, maxRetries: 0 });
  expect(await status(oa.chat.completions.create({ model: "llama3-nope", messages: [{ role: "user", content: "hi" }] }))).toBe(404);
  const ol = new Ollama({ host: broker, headers: { "x-api-key": only } });
  expect(await status(ol.chat({ model: "llama3-nope", messages: [{ role: "user", content: "hi" }], stream: false }))).toBe(404);
  expect(coderRuns()).toBe(before);
  // Its own model by its own name still routes there (no key needed on this machine).
  const r = await new OpenAI({ baseURL: `${broker}/v1`, apiKey: "x", maxRetries: 0 }).chat.completions.create({ model: "coder:32b", messages: [{ role: "user", content: "hi" }] });
  expect(r.choices[0]!.message.content).toBe("tok0 tok1 ");
  expect(coderRuns()).toBe(before + 1);
});

test("while the model's own upstream is down: a key with a model list gets an error, never the llama.cpp model; other callers get the configured fallback", async () => {
  ollama.setHealthy(false);
  try {
    await until(async () => {
      const r = (await (await fetch(`${d.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string; state: string }[] | { upstreams: { name: string; state: string }[] };
      const list = Array.isArray(r) ? r : r.upstreams;
      return list.find((u) => u.name === "local")?.state === "down";
    }, 10_000, "the Ollama upstream to be down");
    const before = coderRuns();
    const ask = (apiKey: string) => new OpenAI({ baseURL: `${broker}/v1`, apiKey, maxRetries: 0 }).chat.completions.create({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] });
    expect(await status(ask(only))).toBeGreaterThanOrEqual(500);
    expect(coderRuns()).toBe(before);
    // Without a key's list, llama.cpp is the fallback the config set up (priority aside, it is tried after the upstream
    // that lists the model): the request is answered there.
    expect((await ask("x")).choices[0]!.message.content).toBe("tok0 tok1 ");
    expect(coderRuns()).toBe(before + 1);
  } finally {
    ollama.setHealthy(true);
  }
});

test("a name no upstream lists, from a caller without a model list, still reaches llama.cpp as it would directly (an app's fixed name)", async () => {
  const before = coderRuns();
  const r = await new OpenAI({ baseURL: `${broker}/v1`, apiKey: "x", maxRetries: 0 }).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
  expect(r.choices[0]!.message.content).toBe("tok0 tok1 ");
  expect(coderRuns()).toBe(before + 1);
});

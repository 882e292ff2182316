// [[aliases]]: an app that hard-codes a model name reaches a local model; the upstream is asked for the real model with
// every other field untouched; aliases marked show are listed; a key may be limited to either name.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import { parseConfig } from "../../src/config/load.ts";

let a: FakeOllama;
let b: FakeOllama;
let tb: TestBroker | null = null;
const ALIASES = `[[aliases]]\nname = "gpt-4o-mini"\nmodel = "llama3.2:1b"\nshow = true\n[[aliases]]\nname = "hidden"\nmodel = "llama3.2:1b"\n`;

beforeAll(async () => {
  a = await startFakeOllama({ models: ["qwen2.5:0.5b"], tokens: 1 });
  b = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 1 });
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});
afterEach(async () => {
  await tb?.stop();
  tb = null;
});

const start = async () => {
  tb = await startBroker(upstreamToml("a", a.url, "priority = 1") + upstreamToml("b", b.url, "priority = 2") + ALIASES);
  await tb.waitState("a", "up");
  await tb.waitState("b", "up");
  return tb;
};

test("an alias routes to the upstream serving its model, which is asked for that model with the other fields untouched", async () => {
  const t = await start();
  const sent = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: false, think: true, keep_alive: "10m", options: { num_ctx: 8192 }, x_custom: { a: [1, 2] } };
  const r = await fetch(`${t.url}/api/chat`, { method: "POST", body: JSON.stringify(sent) });
  expect(r.status).toBe(200);
  const got = b.requests.filter((x) => x.path === "/api/chat").at(-1)!.json as Record<string, unknown>;
  expect(got).toEqual({ ...sent, model: "llama3.2:1b" });
  expect(a.requests.some((x) => x.path === "/api/chat")).toBe(false);
  // The official openai client, with the name it hard-codes.
  const oa = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "ollama", maxRetries: 0 });
  expect((await oa.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })).choices.length).toBe(1);
  expect((b.requests.filter((x) => x.path === "/v1/chat/completions").at(-1)!.json as { model: string }).model).toBe("llama3.2:1b");
});

test("aliases with show = true are listed in /api/tags and /v1/models; the others are not", async () => {
  const t = await start();
  const tags = (await (await fetch(`${t.url}/api/tags`)).json()) as { models: { name: string; model: string }[] };
  expect(tags.models.map((m) => m.name).sort()).toEqual(["gpt-4o-mini", "llama3.2:1b", "qwen2.5:0.5b"]);
  expect(tags.models.find((m) => m.name === "gpt-4o-mini")!.model).toBe("gpt-4o-mini");
  const v1 = (await (await fetch(`${t.url}/v1/models`)).json()) as { data: { id: string }[] };
  expect(v1.data.map((m) => m.id)).toContain("gpt-4o-mini");
  expect(v1.data.map((m) => m.id)).not.toContain("hidden");
});

test("an alias of a model named without its tag (\"phi3\" for phi3:latest) is listed in /v1/models as in /api/tags, and routes", async () => {
  const c = await startFakeOllama({ models: ["phi3:latest"], tokens: 1 });
  try {
    tb = await startBroker(upstreamToml("c", c.url) + `[[aliases]]\nname = "mini"\nmodel = "phi3"\nshow = true\n`);
    await tb.waitState("c", "up");
    const tags = (await (await fetch(`${tb.url}/api/tags`)).json()) as { models: { name: string }[] };
    expect(tags.models.map((m) => m.name).sort()).toEqual(["mini", "phi3:latest"]);
    const v1 = (await (await fetch(`${tb.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(v1.data.map((m) => m.id).sort()).toEqual(["mini", "phi3:latest"]);
    const oa = new OpenAI({ baseURL: `${tb.url}/v1`, apiKey: "ollama", maxRetries: 0 });
    expect((await oa.models.list()).data.map((m) => m.id)).toContain("mini");
    expect((await oa.chat.completions.create({ model: "mini", messages: [{ role: "user", content: "hi" }] })).choices.length).toBe(1);
  } finally {
    await c.stop();
  }
});

test("the config refuses an alias of an alias, a repeated name and an alias of itself, naming the field", () => {
  const bad = (toml: string) => {
    const r = parseConfig(toml, "t.toml");
    return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
  };
  expect(bad(`[[aliases]]\nname = "x"\nmodel = "y"\n[[aliases]]\nname = "y"\nmodel = "z"\n`)).toEqual(['aliases[0].model: "y" is itself an alias; name the model it stands for']);
  expect(bad(`[[aliases]]\nname = "x"\nmodel = "y"\n[[aliases]]\nname = "x"\nmodel = "z"\n`)).toEqual(['aliases[1].name: "x" is already the name of aliases[0] (names must be unique)']);
  expect(bad(`[[aliases]]\nname = "x"\nmodel = "x"\n`)).toEqual(['aliases[0].model: "x" stands for itself (model must name another model)']);
});

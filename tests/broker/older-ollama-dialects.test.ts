// An Ollama older than its Anthropic Messages (0.14) and Responses (0.13.3) routes, behind a real daemon: the official
// clients' /v1/messages, count_tokens and /v1/responses are translated to its /v1/chat/completions (which every release
// serves) instead of passed through to a route it answers 404; a current Ollama still gets them as they are.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { TOOL_ARGS } from "../helpers/fake-dialects.ts";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

let old: FakeOllama;
let current: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  old = await startFakeOllama({ models: ["old:1b"], tokens: 3, version: "0.13.0" });
  current = await startFakeOllama({ models: ["new:1b"], tokens: 3, version: "0.14.0" });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "old"\nurl = "${old.url}"\n[[upstreams]]\nname = "current"\nurl = "${current.url}"\n`,
    waitFor: ["api", "broker"],
  });
  // Checked, so each upstream's version is known before the first request.
  await untilUpstreamsUp(d, await apiToken(d), 2);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await old?.stop();
  await current?.stop();
  if (d) removeHome(d.home);
});

const anthropic = () => new Anthropic({ baseURL: d.urls.broker!, apiKey: "local", maxRetries: 0 });
const paths = (f: FakeOllama) => f.requests.map((r) => r.path).filter((p) => p.startsWith("/v1/"));

test("the fake answers as an Ollama before 0.14 does: /v1/messages is 404", async () => {
  const r = await fetch(`${old.url}/v1/messages`, { method: "POST", body: JSON.stringify({ model: "old:1b", max_tokens: 1, messages: [] }) });
  expect([r.status, await r.text()]).toEqual([404, "404 page not found"]);
});

test("anthropic client: create and messages.stream() with a tool are translated for the older Ollama (before: its 404 page, a NotFoundError); the current one gets /v1/messages", async () => {
  old.requests.length = 0;
  const m = await anthropic().messages.create({ model: "old:1b", max_tokens: 3, messages: [{ role: "user", content: "hi" }] });
  expect(m).toMatchObject({ type: "message", role: "assistant", content: [{ type: "text", text: "tok0 tok1 tok2 " }], stop_reason: "end_turn", usage: { input_tokens: 7, output_tokens: 3 } });
  const tool = await anthropic()
    .messages.stream({ model: "old:1b", max_tokens: 50, tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }], messages: [{ role: "user", content: "weather?" }] })
    .finalMessage();
  expect(tool.stop_reason).toBe("tool_use");
  expect(tool.content).toMatchObject([{ type: "tool_use", id: "call_fake1", name: "get_weather", input: JSON.parse(TOOL_ARGS.join("")) }]);
  expect(tool.content.length).toBe(1);
  expect(paths(old)).toEqual(["/v1/chat/completions", "/v1/chat/completions"]);

  current.requests.length = 0;
  await anthropic().messages.create({ model: "new:1b", max_tokens: 3, messages: [{ role: "user", content: "hi" }] });
  expect(paths(current)).toEqual(["/v1/messages"]);
});

test("anthropic client: count_tokens for the older Ollama is the broker's estimate, never its 404", async () => {
  old.requests.length = 0;
  const r = await anthropic().messages.countTokens({ model: "old:1b", messages: [{ role: "user", content: "12345678" }] });
  expect(r.input_tokens).toBe(2);
  expect(paths(old)).toEqual([]);
});

test("openai client: responses.create and responses.stream() are translated for the older Ollama; the current one gets /v1/responses", async () => {
  old.requests.length = 0;
  const openai = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "local", maxRetries: 0 });
  const r = await openai.responses.create({ model: "old:1b", input: "hi", max_output_tokens: 3 });
  expect([r.status, r.output_text]).toEqual(["completed", "tok0 tok1 tok2 "]);
  const s = await openai.responses.stream({ model: "old:1b", input: "hi", max_output_tokens: 3 }).finalResponse();
  expect([s.status, s.output_text]).toEqual(["completed", "tok0 tok1 tok2 "]);
  expect(paths(old)).toEqual(["/v1/chat/completions", "/v1/chat/completions"]);
  current.requests.length = 0;
  await openai.responses.create({ model: "new:1b", input: "hi", max_output_tokens: 3 });
  expect(paths(current)).toEqual(["/v1/responses"]);
});

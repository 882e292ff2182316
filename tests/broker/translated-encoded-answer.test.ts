// A whole (not streamed) 200 an OpenAI-kind upstream gzips although the broker asked for identity, translated for an
// Anthropic or Ollama client (the official SDKs) through a real daemon: the caller reads the upstream's answer in its own
// shape, not a 502 calling compressed bytes "not JSON"; a gzip that inflates past what the broker holds to translate a
// whole answer is a 502 saying so.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";

const TEXT = "decoded from a gzipped answer";
const completion = (model: string) =>
  JSON.stringify({
    id: "chatcmpl-gz",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: TEXT }, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
  });
const MODELS = JSON.stringify({ object: "list", data: [{ id: "gpt-x", object: "model", created: 0, owned_by: "x" }] });
let up: ScriptedUpstream;
/** The next answer inflates to 40 MiB (the last test sets it). */
let bomb = false;
let d: DaemonProc;

beforeAll(async () => {
  up = scriptedUpstream((path, s) => {
    if (path.startsWith("/v1/models")) {
      s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(MODELS)}\r\n\r\n${MODELS}`);
      return;
    }
    // What a CDN in front of an OpenAI-compatible API sends whatever it is asked.
    const gz = Bun.gzipSync(bomb ? new Uint8Array(40 * 1024 * 1024) : Buffer.from(completion("gpt-x")));
    s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.byteLength}\r\n\r\n`);
    s.write(gz);
  });
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[health]\ninterval = "60s"\n[[upstreams]]\nname = "cloud"\nkind = "openai"\nurl = "${up.url}"\n`,
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  up?.stop();
  if (d) removeHome(d.home);
});

test("a gzipped whole 200 of an OpenAI-kind upstream reaches an Anthropic SDK client as Anthropic's message, with the upstream's text and usage", async () => {
  const an = new Anthropic({ baseURL: d.urls.broker, apiKey: "caller-own", maxRetries: 0 });
  const msg = await an.messages.create({ model: "gpt-x", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
  expect(msg.content).toEqual([expect.objectContaining({ type: "text", text: TEXT })]);
  expect({ input: msg.usage.input_tokens, output: msg.usage.output_tokens }).toEqual({ input: 3, output: 5 });
});

test("a gzipped whole 200 of an OpenAI-kind upstream reaches an Ollama client (stream: false) as Ollama's answer, with the upstream's text", async () => {
  const ol = new Ollama({ host: d.urls.broker });
  const r = await ol.chat({ model: "gpt-x", messages: [{ role: "user", content: "hi" }], stream: false });
  expect(r.message.content).toBe(TEXT);
  expect({ prompt: r.prompt_eval_count, eval: r.eval_count }).toEqual({ prompt: 3, eval: 5 });
});

test("a gzipped 200 that inflates past what the broker holds to translate a whole answer is a 502 in the caller's dialect saying so", async () => {
  bomb = true;
  const an = new Anthropic({ baseURL: d.urls.broker, apiKey: "caller-own", maxRetries: 0 });
  const err = await an.messages.create({ model: "gpt-x", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Anthropic.APIError);
  const e = err as InstanceType<typeof Anthropic.APIError>;
  expect(e.status).toBe(502);
  expect((e.error as { error: { message: string } }).error.message).toContain("encoded as gzip (it was asked for identity), and it does not decode within");
});

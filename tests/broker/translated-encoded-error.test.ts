// An error answer an OpenAI-kind upstream gzips although the broker asked for identity, rewritten for an Anthropic or
// Ollama client, or an OpenAI Responses client (the official SDKs) through a real daemon: the caller reads the upstream's message, its auth_secret
// [redacted], not the compressed bytes garbled into text.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Ollama } from "ollama";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";

const SECRET = "sk-operator-gz-41c9e2";
const MESSAGE = `model "gpt-x" does not exist (key Bearer ${SECRET})`;
let up: ScriptedUpstream;
let d: DaemonProc;

beforeAll(async () => {
  // OpenAI's error shape, gzipped, sized: what a CDN in front of an OpenAI-compatible API sends whatever it is asked.
  const gz = Bun.gzipSync(Buffer.from(JSON.stringify({ error: { message: MESSAGE, type: "invalid_request_error", code: "model_not_found" } })));
  up = scriptedUpstream((_path, s) => {
    s.write(`HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.byteLength}\r\n\r\n`);
    s.end(gz);
  });
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[health]\ninterval = "60s"\n[[upstreams]]\nname = "cloud"\nkind = "openai"\nurl = "${up.url}"\nauth_secret = "cloud-key"\n`,
    env: { CLOUDTOLOCALLLM_SECRET_CLOUD_KEY: SECRET },
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  up?.stop();
  if (d) removeHome(d.home);
});

const REDACTED_MESSAGE = MESSAGE.replace(SECRET, "[redacted]");

test("a gzipped 4xx of an OpenAI-kind upstream reaches an Anthropic SDK client as Anthropic's error, carrying the upstream's message [redacted]", async () => {
  const an = new Anthropic({ baseURL: d.urls.broker, apiKey: "caller-own", maxRetries: 0 });
  const err = await an.messages.create({ model: "gpt-x", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Anthropic.APIError);
  const e = err as InstanceType<typeof Anthropic.APIError>;
  expect(e.status).toBe(404);
  expect((e.error as { error: { message: string } }).error.message).toBe(REDACTED_MESSAGE);
  expect(JSON.stringify(e.error)).not.toContain(SECRET);
});

test("a gzipped 4xx of an OpenAI-kind upstream reaches an Ollama client as Ollama's error, carrying the upstream's message [redacted]", async () => {
  const ol = new Ollama({ host: d.urls.broker });
  const err = await ol.chat({ model: "gpt-x", messages: [{ role: "user", content: "hi" }], stream: false }).then(
    () => null,
    (e: unknown) => e as { status_code?: number; error?: string },
  );
  expect(err).not.toBeNull();
  expect({ status: err!.status_code, error: err!.error }).toEqual({ status: 404, error: REDACTED_MESSAGE });
});

test("a gzipped 4xx of an OpenAI-kind upstream reaches an OpenAI Responses client (translated to chat completions) with the upstream's message [redacted]", async () => {
  const oa = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "caller-own", maxRetries: 0 });
  const err = await oa.responses.create({ model: "gpt-x", input: "hi" }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.APIError);
  const e = err as InstanceType<typeof OpenAI.APIError>;
  expect({ status: e.status, message: (e.error as { message?: string }).message }).toEqual({ status: 404, message: REDACTED_MESSAGE });
});

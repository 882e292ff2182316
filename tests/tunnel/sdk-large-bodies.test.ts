// Vision requests near and over the body limits, sent by the official clients straight to a real daemon and through a
// real relay and agent: an image body over the broker's 32 MiB buffer is routed by its model (one attempt), one that
// needs translating is a 413 in the caller's dialect whose tunnel stream closes at once, and one over the relay's
// max_body_bytes is Anthropic's request_too_large; a 20 MB image is translated whole.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Ollama } from "ollama";
import { BUFFER_LIMIT } from "../../src/broker/request-body.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let native: FakeOllama;
let plain: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let token: string;
/** The relay's body limit: above the broker's buffer, so a body between the two reaches the broker. */
const RELAY_LIMIT = BUFFER_LIMIT + 4 * 1024 * 1024;

// "llama3.2:1b" is on the Ollama-kind upstream only, "qwen2.5:0.5b" on the OpenAI-only one, which comes first by
// priority: a request routed without its model goes there.
beforeAll(async () => {
  native = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 2 });
  plain = await startFakeOllama({ models: ["qwen2.5:0.5b"], tokens: 2, kind: "openai" });
  relay = await startRelayProc(relayToml().replace("max_body_bytes = 2000000000", `max_body_bytes = ${RELAY_LIMIT}`));
  const toml = daemonToml({ upstream: native.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }).replace('name = "fake"\n', 'name = "fake"\npriority = 20\n');
  daemon = await startAgentDaemon(`${toml}[[upstreams]]\nname = "plain"\nkind = "openai"\nurl = "${plain.url}"\npriority = 10\n`);
  token = await apiToken(daemon);
  await untilUpstreamsUp(daemon, token, 2);
}, 40_000);
afterAll(async () => {
  await daemon?.stop();
  await relay?.stop();
  await native?.stop();
  await plain?.stop();
  cleanup(relay?.dir, daemon?.home);
});

const WAYS = [
  { label: "straight to the daemon", base: () => daemon.urls.broker!, key: "local" },
  { label: "through the relay", base: () => `${relay.url}/t/${TUNNEL_ID}`, key: CLIENT_KEY },
] as const;

/** Base64 of `bytes` bytes of image data: the body is about 4/3 of it. */
const image = (bytes: number) => Buffer.alloc(bytes, 7).toString("base64");
/** An image whose base64 makes the body just over the broker's buffer (and under the relay's limit). */
const OVER_BUFFER = Math.ceil(((BUFFER_LIMIT + 512 * 1024) * 3) / 4);

async function thrown(p: Promise<unknown>): Promise<any> {
  try {
    await p;
    return null;
  } catch (e) {
    return e;
  }
}

const chats = (f: FakeOllama, path: string) => f.requests.filter((r) => r.path === path);
/** The tunnel's streams open now, as the daemon counts them. */
const activeStreams = async () => ((await (await fetch(`${daemon.urls.api}/api/v1/tunnel`, { headers: { authorization: `Bearer ${token}` } })).json()) as { activeStreams: number }).activeStreams;

for (const w of WAYS) {
  test(`${w.label}: the openai client's image over the broker's 32 MiB buffer (a sized body) is routed by its model, to the upstream that has it, whole`, async () => {
    // Before, a declared length over the buffer streamed unread: the model was not seen, the first upstream by priority
    // got the request and the caller a 404 "model not found" for a model the broker lists.
    const openai = new OpenAI({ baseURL: `${w.base()}/v1`, apiKey: w.key, maxRetries: 0 });
    const before = { native: chats(native, "/v1/chat/completions").length, plain: chats(plain, "/v1/chat/completions").length };
    const url = `data:image/png;base64,${image(OVER_BUFFER)}`;
    const r = await openai.chat.completions.create({ model: "llama3.2:1b", messages: [{ role: "user", content: [{ type: "text", text: "what is this?" }, { type: "image_url", image_url: { url } }] }] });
    expect(r.choices[0]!.message.content).toBe("tok0 tok1 ");
    expect(chats(plain, "/v1/chat/completions").length).toBe(before.plain);
    const seen = chats(native, "/v1/chat/completions");
    expect(seen.length).toBe(before.native + 1);
    expect(seen.at(-1)!.bodySize).toBeGreaterThan(BUFFER_LIMIT);
  }, 60_000);

  test(`${w.label}: Anthropic's image over the buffer reaches the upstream that serves /v1/messages; for one that needs translating it is a 413 request_too_large the SDK raises, and Ollama's a ResponseError`, async () => {
    const anthropic = new Anthropic({ baseURL: w.base(), apiKey: w.key, maxRetries: 0 });
    const data = image(OVER_BUFFER);
    const ask = (model: string) => anthropic.messages.create({ model, max_tokens: 5, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data } }] }] });
    const m = await ask("llama3.2:1b");
    expect(m.content[0]).toMatchObject({ type: "text" });
    expect(chats(native, "/v1/messages").at(-1)!.bodySize).toBeGreaterThan(BUFFER_LIMIT);

    const before = chats(plain, "/v1/chat/completions").length;
    const e = await thrown(ask("qwen2.5:0.5b"));
    expect(e).toBeInstanceOf(Anthropic.APIError);
    expect(e.status).toBe(413);
    expect(e.error).toEqual({ type: "error", error: { type: "request_too_large", message: expect.stringContaining("too large for the broker to translate") } });
    const ollama = new Ollama({ host: w.base(), headers: { authorization: `Bearer ${w.key}` } });
    const o = await thrown(ollama.chat({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "what is this?", images: [data] }] }));
    expect(o?.status_code).toBe(413);
    expect(o?.message).toMatch(/^the request body is too large for the broker to translate .*\(at most 32 MiB\)$/);
    expect(chats(plain, "/v1/chat/completions").length).toBe(before);
    // Refused before its body was read, the stream still closes at once: before, the relay waited for credit to send
    // the rest, the tunnel stream stayed open until stall_timeout (60 s), and the daemon's stop waited for it.
    await until(async () => (await activeStreams()) === 0, 5_000, "the refused calls' tunnel streams to close");
  }, 60_000);
}

test("through the relay: a 20 MB image from the ollama client is translated whole for the OpenAI-only upstream", async () => {
  const ollama = new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  const data = image(15_000_000);
  const r = await ollama.chat({ model: "qwen2.5:0.5b", messages: [{ role: "user", content: "what is this?", images: [data] }], stream: false });
  expect(r.message.content).toBe("tok0 tok1 ");
  const seen = chats(plain, "/v1/chat/completions").at(-1)!.json as any;
  expect(seen.messages[0].content).toEqual([
    { type: "text", text: "what is this?" },
    { type: "image_url", image_url: { url: `data:image/png;base64,${data}` } },
  ]);
}, 60_000);

test("through the relay: Anthropic's image over the relay's max_body_bytes is a 413 request_too_large the SDK raises, reaching nothing", async () => {
  const anthropic = new Anthropic({ baseURL: `${relay.url}/t/${TUNNEL_ID}`, apiKey: CLIENT_KEY, maxRetries: 0 });
  const before = native.requests.length + plain.requests.length;
  const e = await thrown(anthropic.messages.create({ model: "llama3.2:1b", max_tokens: 5, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: image(Math.ceil((RELAY_LIMIT * 3) / 4)) } }] }] }));
  expect(e).toBeInstanceOf(Anthropic.APIError);
  expect(e.status).toBe(413);
  expect(e.error.error).toEqual({ type: "request_too_large", message: expect.stringMatching(/^the request body \(\d+ bytes\) is over this relay's limit of \d+ bytes$/) });
  expect(native.requests.length + plain.requests.length).toBe(before);
}, 60_000);

// A stream beyond the agent's limit through a real relay and daemon: with [tunnel] max_streams = 1 busy, the next call
// waits for the stream (2 s), then is 503 unavailable naming the agent's limit (the relay learns it from HELLO), in the
// caller's dialect, as the ollama and openai clients show it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import type { FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: 5, tokenDelayMs: 50 }, tunnel: "max_streams = 1" });
  ({ fake, relay, daemon } = rig);
}, 40_000);
afterAll(async () => {
  await rig?.stop();
});

const REFUSED = /^tunnel "[^"]+" is busy: its agent takes 1 request at once \(\[tunnel\] max_streams\) and all are in flight; retry in a moment$/;

test("a stream beyond the agent's max_streams: 503 unavailable naming the agent's limit, in Ollama's and OpenAI's shapes", async () => {
  // One long answer holds the agent's only stream.
  const busy = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
    // Longer than the 2 s a call waits for a stream.
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "long", options: { num_predict: 400 } }),
  });
  const reader = busy.body!.getReader();
  await reader.read();
  try {
    const raw = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect({ status: raw.status, code: raw.headers.get("x-c2l-error-code"), retry: raw.headers.get("retry-after"), body: await raw.json() }).toEqual({ status: 503, code: "unavailable", retry: "1", body: { error: expect.stringMatching(REFUSED) } });

    const ollama = new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    const o = await ollama.generate({ model: "llama3.2:1b", prompt: "hi", stream: false }).then(
      () => null,
      (e: Error & { status_code?: number }) => e,
    );
    expect({ status: o?.status_code, message: o?.message }).toEqual({ status: 503, message: expect.stringMatching(REFUSED) });

    const openai = new OpenAI({ baseURL: `${relay.url}/t/${TUNNEL_ID}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    const a = await openai.chat.completions.create({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(a).toBeInstanceOf(OpenAI.APIError);
    const err = a as InstanceType<typeof OpenAI.APIError>;
    expect({ status: err.status, code: err.code, message: err.message }).toEqual({ status: 503, code: "unavailable", message: expect.stringMatching(/its agent takes 1 request at once/) });
  } finally {
    await reader.cancel();
  }
  // The slot is free again once the long answer's client went away (as soon as the relay has noticed it left).
  await until(async () => (await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } })).status === 200, 5_000, "the agent's slot to come back");
}, 30_000);

test("requests the agent refuses before reading their chunked bodies (model management) never hold its stream: the next call is served", async () => {
  const chunked = (text: string) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    });
  // Before, each left its unread body queued at the agent, holding the one stream of max_streams = 1 for good.
  for (const path of ["/api/pull", "/api/delete", "/api/create"]) {
    const res = await fetch(`${relay.url}/t/${TUNNEL_ID}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: chunked(JSON.stringify({ model: "llama3.2:1b" })),
      // @ts-expect-error duplex is needed for a streamed body
      duplex: "half",
    });
    expect({ path, status: res.status, code: res.headers.get("x-c2l-error-code") }).toEqual({ path, status: 403, code: "forbidden" });
  }
  const ollama = new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  const r = await ollama.generate({ model: "llama3.2:1b", prompt: "hi", stream: false });
  expect(r.done).toBe(true);
});

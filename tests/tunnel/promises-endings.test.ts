// Every ending has a reason, through the relay: an upstream behind the tunnel that sends its head and then nothing, or
// an empty stream, reaches the caller's official client as an error naming why — not a call open for ever or an empty
// "successful" answer (the broker ends them: tests/broker/promises-endings.test.ts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import type { DaemonProc } from "../helpers/daemon.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

const head = (path: string) => `HTTP/1.1 200 OK\r\ncontent-type: ${path.startsWith("/api/") ? "application/x-ndjson" : "text/event-stream"}\r\ntransfer-encoding: chunked\r\n\r\n`;
let up: ScriptedUpstream;
let relay: RelayProc;
let daemon: DaemonProc;
let ollama: Ollama;
let openai: OpenAI;

beforeAll(async () => {
  up = scriptedUpstream(() => {});
  relay = await startRelayProc(relayToml());
  // The upstream's own first_byte_timeout, on the line after its url.
  daemon = await startAgentDaemon(daemonToml({ upstream: `${up.url}"\nfirst_byte_timeout = "2s`, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  const base = `${relay.url}/t/${TUNNEL_ID}`;
  ollama = new Ollama({ host: base, headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
}, 30_000);
afterAll(async () => {
  await daemon?.stop();
  await relay?.stop("SIGKILL");
  up?.stop();
  cleanup(relay?.dir, daemon?.home);
});

async function thrown(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("the call succeeded");
}
const drain = async (it: AsyncIterable<unknown>) => {
  for await (const _ of it);
};

test("an upstream that sends its head and then nothing: the relay's caller gets first_byte_timeout's error in each dialect (before: a call open for ever)", async () => {
  up.script = (path, s) => void s.write(head(path));
  const o = await thrown(drain(await ollama.chat({ model: "m:latest", messages: [{ role: "user", content: "hi" }], stream: true })));
  expect(o.message).toBe('upstream "fake" sent its response head but not its body within 2s (first_byte_timeout); the answer was ended');
  const c = await thrown(drain(await openai.chat.completions.create({ model: "m:latest", messages: [{ role: "user", content: "hi" }], stream: true })));
  expect(c).toBeInstanceOf(OpenAI.APIError);
  expect(c.message).toContain("first_byte_timeout");
}, 30_000);

test("an empty generation stream: the openai client raises the reason through the relay instead of returning nothing", async () => {
  up.script = (path, s) => void s.write(head(path) + "0\r\n\r\n");
  const c = await thrown(drain(await openai.completions.create({ model: "m:latest", prompt: "hi", stream: true })));
  expect(c).toBeInstanceOf(OpenAI.APIError);
  expect(c.message).toContain("the upstream ended the stream without sending anything");
}, 30_000);

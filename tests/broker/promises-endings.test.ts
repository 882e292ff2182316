// Every ending has a reason: an upstream that sends its response head and then nothing, a stream that ends at once with
// nothing in it, or the daemon stopping mid-answer is an error each official client raises naming why, through a real
// daemon — never a hang, a reset without a reason, or an empty "successful" answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";

const SSE = "text/event-stream";
const NDJSON = "application/x-ndjson";
const typeOf = (path: string) => (path.startsWith("/api/") ? NDJSON : SSE);
const chunkedHead = (type: string) => `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ntransfer-encoding: chunked\r\n\r\n`;

let up: ScriptedUpstream;
let d: DaemonProc;
let broker: string;

beforeAll(async () => {
  up = scriptedUpstream(() => {});
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "up"\nkind = "ollama"\nurl = "${up.url}"\nfirst_byte_timeout = "2s"\n`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  await untilUpstreamsUp(d, await apiToken(d), 1);
}, 30_000);
afterAll(async () => {
  await d?.stop();
  up?.stop();
  if (d) removeHome(d.home);
});

const model = "m:latest";
const ollama = () => new Ollama({ host: broker });
const openai = () => new OpenAI({ baseURL: `${broker}/v1`, apiKey: "x", maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: broker, apiKey: "x", maxRetries: 0 });

async function thrown(p: Promise<unknown>): Promise<Error & { status?: number }> {
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

describe("an upstream that sends its response head and then nothing (a LAN host gone, an early head before a long prompt)", () => {
  test("a stream ends after first_byte_timeout with its error, each client raises it; the upstream is hung up on", async () => {
    // Before: first_byte_timeout stopped at the head, stream_idle_timeout starts at the first body byte: nothing applied
    // between them, and every client waited forever.
    up.script = (path, s) => void s.write(chunkedHead(typeOf(path)));
    const closed = up.closed;
    const o = await thrown(drain(await ollama().chat({ model, messages: [{ role: "user", content: "hi" }], stream: true })));
    expect(o.message).toContain('upstream "up" sent its response head but not its body within 2s (first_byte_timeout)');
    const c = await thrown(drain(await openai().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true })));
    expect(c).toBeInstanceOf(OpenAI.APIError);
    expect(c.message).toContain("first_byte_timeout");
    const a = await thrown(anthropic().messages.stream({ model, max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).finalMessage());
    expect(a).toBeInstanceOf(Anthropic.APIError);
    expect(a.message).toContain("first_byte_timeout");
    // The broker closed each stalled connection (the upstream stops generating).
    expect(up.closed - closed).toBeGreaterThanOrEqual(3);
    const line = await d.waitFor(/upstream stalled mid-stream; stream ended .*first_byte_timeout=2s/, 5000);
    expect(line).toContain("upstream=up");
  }, 30_000);

  test("a whole answer whose body stops after its head is a 504 upstream_timeout the clients raise, not a wait without end", async () => {
    // A stream:false answer with its Content-Length, half of it sent: read whole by the broker, which waited forever.
    up.script = (_path, s) => void s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{"model":"m:latest",`);
    const o = await thrown(ollama().chat({ model, messages: [{ role: "user", content: "hi" }], stream: false }));
    expect((o as Error & { status_code?: number }).status_code).toBe(504);
    expect(o.message).toContain("first_byte_timeout");
    const c = await thrown(openai().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }));
    expect(c).toBeInstanceOf(OpenAI.InternalServerError);
    expect(c.status).toBe(504);
    expect((c as InstanceType<typeof OpenAI.APIError>).code).toBe("upstream_timeout");
  }, 30_000);
});

describe("a generation stream that the upstream ends at once, empty (a proxy between closed it cleanly)", () => {
  test("is an error naming it: the openai client raises it instead of returning an empty answer; the ollama client too", async () => {
    up.script = (path, s) => void s.write(chunkedHead(typeOf(path)) + "0\r\n\r\n");
    const c = await thrown(drain(await openai().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true })));
    expect(c).toBeInstanceOf(OpenAI.APIError);
    expect(c.message).toContain("without sending anything");
    const t = await thrown(drain(await openai().completions.create({ model, prompt: "hi", stream: true })));
    expect(t.message).toContain("without sending anything");
    const o = await thrown(drain(await ollama().generate({ model, prompt: "hi", stream: true })));
    // Before, the ollama client's own "Did not receive done or success response in stream.": now the broker's reason.
    expect(o.message).toContain("without sending anything");
  }, 30_000);
});

test("an NDJSON stream that ends cleanly in the middle of a line: the ollama client raises the broker's reason, not its own \"Did not receive done\"", async () => {
  const part = (t: string) => `${Buffer.byteLength(t).toString(16)}\r\n${t}\r\n`;
  up.script = (path, s) => void s.write(chunkedHead(typeOf(path)) + part(JSON.stringify({ model, message: { role: "assistant", content: "a" }, done: false }) + "\n") + part('{"model":"m:latest","done":fa') + "0\r\n\r\n");
  const o = await thrown(drain(await ollama().chat({ model, messages: [{ role: "user", content: "hi" }], stream: true })));
  expect(o.message).toBe('upstream "up" broke off the response: the upstream ended the stream in the middle of a line; the answer is incomplete');
});

test("the routes the matrix leaves out, cut mid-chunk by the upstream (a socket closed in a chunk): generate, completions and raw Responses events carry the reason", async () => {
  const part = (t: string) => `${Buffer.byteLength(t).toString(16)}\r\n${t}\r\n`;
  const first: Record<string, string> = {
    "/api/generate": JSON.stringify({ model, response: "a", done: false }) + "\n",
    "/v1/completions": `data: ${JSON.stringify({ id: "c", object: "text_completion", created: 1, model, choices: [{ index: 0, text: "a", finish_reason: null }] })}\n\n`,
    "/v1/responses": `event: response.created\ndata: ${JSON.stringify({ type: "response.created", sequence_number: 0, response: { id: "r", object: "response", created_at: 1, status: "in_progress", model, output: [] } })}\n\n`,
  };
  up.script = (path, s) => {
    s.write(chunkedHead(typeOf(path)) + part(first[path]!) + "40\r\nabc");
    setTimeout(() => s.end(), 20);
  };
  const reason = 'upstream "up" broke off the response: connection closed in the middle of the response body';
  const g = await thrown(drain(await ollama().generate({ model, prompt: "hi", stream: true })));
  expect(g.message).toBe(reason);
  const c = await thrown(drain(await openai().completions.create({ model, prompt: "hi", stream: true })));
  expect(c).toBeInstanceOf(OpenAI.APIError);
  expect(c.message).toBe(reason);
  const events: { type: string; message?: string; code?: string }[] = [];
  for await (const ev of await openai().responses.create({ model, input: "hi", stream: true })) events.push(ev as (typeof events)[number]);
  expect(events.at(-1)).toMatchObject({ type: "error", code: "upstream_error", message: reason });
});

test("an upstream head the broker cannot pass on (a NUL in a header, a head over 64 KiB in one packet) is a 502 naming it, not a 500 'internal error' or a reset", async () => {
  const heads = [
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-a: \u0000\r\ncontent-length: 2\r\n\r\n{}",
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n" + `x-a: ${"y".repeat(1000)}\r\n`.repeat(100) + "\r\n{}",
  ];
  for (const [i, head] of heads.entries()) {
    up.script = (_path, s) => void s.write(head);
    const c = await thrown(openai().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }));
    // Before: 500 "internal error in the broker" (Bun's Headers refused the value) and a reset connection.
    expect(c).toBeInstanceOf(OpenAI.APIError);
    expect(c.status).toBe(502);
    expect((c as InstanceType<typeof OpenAI.APIError>).code).toBe("upstream_error");
    expect(c.message).toContain(i === 0 ? "malformed header line" : "response head larger than 65536 bytes");
  }
  expect(d.stderr()).not.toContain("request failed inside the broker");
});

describe("the daemon stopped (SIGTERM) while local clients stream", () => {
  test("each answer ends with the reason in its dialect (a stream's last event, a 503 for one still waiting), the clients raise it; not a reset connection", async () => {
    const slow = await startFakeOllama({ models: ["m:1b"], tokens: 500, tokenDelayMs: 20 });
    const own = await startDaemon({
      config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "${slow.url}"\n`,
      waitFor: ["api", "broker"],
    });
    try {
      await untilUpstreamsUp(own, await apiToken(own), 1);
      const url = own.urls.broker!;
      let tokens = 0;
      const o = thrown(
        (async () => {
          for await (const _ of await new Ollama({ host: url }).chat({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true })) tokens++;
        })(),
      );
      const c = thrown(drain(await new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 }).chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true })));
      const a = thrown(new Anthropic({ baseURL: url, apiKey: "x", maxRetries: 0 }).messages.stream({ model: "m:1b", max_tokens: 500, messages: [{ role: "user", content: "hi" }] }).finalMessage());
      // A stream:false call still waiting for its whole answer (Ollama sends the head at the end).
      const w = thrown(new Ollama({ host: url }).chat({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false }));
      while (tokens < 5) await Bun.sleep(20);
      own.proc.kill("SIGTERM");
      // Before: ECONNRESET ("The socket connection was closed unexpectedly") in each client, no reason.
      expect((await o).message).toBe("the daemon is stopping; the answer is incomplete");
      const ce = await c;
      expect(ce).toBeInstanceOf(OpenAI.APIError);
      expect(ce.message).toContain("the daemon is stopping");
      const ae = await a;
      expect(ae).toBeInstanceOf(Anthropic.APIError);
      expect(ae.message).toContain("the daemon is stopping");
      const we = await w;
      expect((we as Error & { status_code?: number }).status_code).toBe(503);
      expect(we.message).toBe("the daemon is stopping; the answer is incomplete");
      expect(await own.proc.exited).toBe(0);
      // The generations were let go at the upstream, and the log says why, one line per stream.
      await slow.waitForAborts(4, 5000);
      expect(own.count(/info broker: stream ended: the broker is stopping upstream=local/)).toBe(3);
      // And each request its own line with the reason, as any other ending (before: none; the request log stopped first).
      expect(own.count(/info request: 200 POST \S+ model=m:1b upstream=local .*error="the daemon is stopping; the answer is incomplete"/)).toBe(3);
      expect(own.count(/info request: 503 POST \/api\/chat model=m:1b .*error="the daemon is stopping/)).toBe(1);
    } finally {
      await own.stop();
      await slow.stop();
      removeHome(own.home);
    }
  }, 30_000);
});

test("a stream:false generation waiting when the daemon stops is answered 503, never sent on to another upstream that serves the model (no failover)", async () => {
  const slow = await startFakeOllama({ models: ["m:1b"], tokens: 500, tokenDelayMs: 20 });
  const other = await startFakeOllama({ models: ["m:1b"], tokens: 3 });
  const own = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "slow"\nurl = "${slow.url}"\npriority = 1\n[[upstreams]]\nname = "other"\nurl = "${other.url}"\npriority = 10\n`,
    waitFor: ["api", "broker"],
  });
  try {
    await untilUpstreamsUp(own, await apiToken(own), 2);
    const chats = (f: typeof slow) => f.requests.filter((r) => r.path === "/api/chat").length;
    const w = thrown(new Ollama({ host: own.urls.broker! }).chat({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false }));
    await until(() => chats(slow) === 1, 10_000, "the generation at the preferred upstream");
    own.proc.kill("SIGTERM");
    const we = await w;
    expect([(we as Error & { status_code?: number }).status_code, we.message]).toEqual([503, "the daemon is stopping; the answer is incomplete"]);
    expect(await own.proc.exited).toBe(0);
    expect(chats(other)).toBe(0);
  } finally {
    await own.stop();
    await slow.stop();
    await other.stop();
    removeHome(own.home);
  }
}, 30_000);

test("the daemon's log through every ending above: one structured line each, no stack frames, no stray failures", () => {
  const lines = (d.stderr() + d.stdout()).split("\n").filter((l) => l !== "");
  expect(lines.length).toBeGreaterThan(5);
  expect(lines.filter((l) => !/^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) [a-z-]+: \S/.test(l) || /^\s+at |\$bunfs|unhandled|unexpected error/i.test(l))).toEqual([]);
  expect(lines.filter((l) => / warn broker: upstream (stalled|broke off) mid-stream /.test(l)).length).toBeGreaterThanOrEqual(5);
});

// How tunnel answers end when the agent goes away mid-stream, through a real relay and a real daemon with the official
// ollama and openai clients: a last error in the caller's dialect and a clean end (never a reset), SIGTERM lets them
// finish, and every log line of the relay and the daemon stays one structured line (no stack dumps).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import type { LoggedProc } from "../helpers/process.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

const MODEL = "tiny:1b";
const TOKENS = 40;
let fake: FakeOllama;
let relay: RelayProc;
const daemons: DaemonProc[] = [];

beforeAll(async () => {
  // Slow enough (2 s an answer) that the agent can be killed or stopped in the middle of it.
  fake = await startFakeOllama({ models: [MODEL], tokens: TOKENS, tokenDelayMs: 50 });
  // A short resume window: an agent that never comes back (killed, frozen) is waited for 1 s, then the answer ends
  // with the relay's sentence (docs/protocol.md, Resume; resuming itself: resume.test.ts).
  relay = await startRelayProc(relayToml({ extra: 'resume_window = "1s"' }));
}, 40_000);

afterAll(async () => {
  for (const d of daemons) await d.stop("SIGKILL");
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, ...daemons.map((d) => d.home));
});

async function agent(r: RelayProc = relay): Promise<DaemonProc> {
  const d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${r.url.replace(/^http/, "ws")}/agent` }));
  daemons.push(d);
  return d;
}

const chat = { model: MODEL, messages: [{ role: "user" as const, content: "hi" }] };

interface Outcome {
  chunks: number;
  /** The last chunk said the answer is complete (Ollama's done:true, OpenAI's finish_reason). */
  complete: boolean;
  error: Error | null;
}

/** A streamed chat with each official client; `chunks` counts what arrived so far, `outcome` how the stream ended. */
function clientStreams(r: RelayProc = relay) {
  const seen = { ollama: 0, openai: 0 };
  const ollama = new Ollama({ host: `${r.url}/t/${TUNNEL_ID}`, headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  const openai = new OpenAI({ baseURL: `${r.url}/t/${TUNNEL_ID}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  const ollamaOutcome = (async (): Promise<Outcome> => {
    let complete = false;
    try {
      for await (const c of await ollama.chat({ ...chat, stream: true })) {
        seen.ollama++;
        complete = c.done;
      }
      return { chunks: seen.ollama, complete, error: null };
    } catch (e) {
      return { chunks: seen.ollama, complete, error: e as Error };
    }
  })();
  const openaiOutcome = (async (): Promise<Outcome> => {
    let complete = false;
    try {
      for await (const c of await openai.chat.completions.create({ ...chat, stream: true })) {
        seen.openai++;
        complete = !!c.choices[0]?.finish_reason;
      }
      return { chunks: seen.openai, complete, error: null };
    } catch (e) {
      return { chunks: seen.openai, complete, error: e as Error };
    }
  })();
  return {
    /** Resolves once both clients have their first tokens: the 200 is sent, only the stream can carry an error now. */
    async started(): Promise<void> {
      for (let i = 0; i < 200 && (seen.ollama < 2 || seen.openai < 2); i++) await Bun.sleep(20);
      expect(seen.ollama).toBeGreaterThanOrEqual(2);
      expect(seen.openai).toBeGreaterThanOrEqual(2);
    },
    ollama: ollamaOutcome,
    openai: openaiOutcome,
  };
}

/** The same two streams read raw: the body's text must end cleanly (a reset throws), its last line or event says why. */
function rawStreams(r: RelayProc = relay) {
  const read = async (path: string, body: object) => {
    const res = await fetch(`${r.url}/t/${TUNNEL_ID}${path}`, { method: "POST", headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    try {
      return await res.text();
    } catch (e) {
      return `reset: ${(e as Error).message}`;
    }
  };
  return { ndjson: read("/api/chat", { ...chat, stream: true }), sse: read("/v1/chat/completions", { ...chat, stream: true }) };
}

const DISCONNECTED = /^tunnel "alice" disconnected in the middle of the answer .*; the answer is incomplete$/;

function expectDialectEndings(o: Outcome, a: Outcome, raw: { ndjson: string; sse: string }) {
  // ollama-js throws an Error with the NDJSON line's "error" text.
  expect(o.complete).toBe(false);
  expect(o.error?.message).toMatch(DISCONNECTED);
  // openai-js throws an APIError with the SSE error event's message and code (never "terminated" or a connection error).
  expect(a.complete).toBe(false);
  expect(a.error).toBeInstanceOf(OpenAI.APIError);
  expect(a.error!.message).toMatch(DISCONNECTED);
  expect((a.error as InstanceType<typeof OpenAI.APIError>).code).toBe("tunnel_offline");
  // Raw: the bodies ended cleanly (no reset), after the tokens already sent, with one last error in each dialect.
  const lines = raw.ndjson.trimEnd().split("\n");
  expect(lines.length).toBeGreaterThan(1);
  expect(JSON.parse(lines.at(-1)!)).toEqual({ error: expect.stringMatching(DISCONNECTED) });
  for (const l of lines.slice(0, -1)) expect(JSON.parse(l).message).toBeDefined();
  const events = raw.sse.trim().split(/\n\n+/);
  expect(events.length).toBeGreaterThan(1);
  expect(events.at(-1)!.split("\n")[0]).toBe("event: error");
  expect(JSON.parse(events.at(-1)!.split("\n")[1]!.slice("data: ".length))).toEqual({
    error: { message: expect.stringMatching(DISCONNECTED), type: "server_error", code: "tunnel_offline", param: null },
  });
}

/** Every line the process wrote, stdout and stderr: each one structured line at a level, no stack frames. */
function expectStructuredLog(p: LoggedProc, component: string) {
  const lines = (p.stderr() + p.stdout()).split("\n").filter((l) => l !== "");
  expect(lines.length).toBeGreaterThan(2);
  const bad = lines.filter((l) => !/^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) [a-z-]+: \S/.test(l) || /^\s+at |\$bunfs|StreamError/.test(l));
  expect(bad).toEqual([]);
  expect(lines.some((l) => l.includes(` ${component}: `))).toBe(true);
}

describe("a tunnel answer the relay cannot finish ends with a reason", () => {
  test("the daemon killed (SIGKILL) mid-stream: the ollama and openai clients show the relay's sentence; the bodies end cleanly", async () => {
    const d = await agent();
    const clients = clientStreams();
    const raw = rawStreams();
    await clients.started();
    d.proc.kill("SIGKILL");
    expectDialectEndings(await clients.ollama, await clients.openai, { ndjson: await raw.ndjson, sse: await raw.sse });
  }, 30_000);

  test("the daemon killed mid-stream: Anthropic's Messages stream throws the relay's sentence, OpenAI's Responses stream ends with its error event", async () => {
    const d = await agent();
    const anthropic = new Anthropic({ baseURL: `${relay.url}/t/${TUNNEL_ID}`, authToken: CLIENT_KEY, apiKey: null, maxRetries: 0 });
    const openai = new OpenAI({ baseURL: `${relay.url}/t/${TUNNEL_ID}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    const seen = { messages: 0, responses: 0 };
    const messages = (async () => {
      try {
        for await (const ev of await anthropic.messages.create({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "hi" }], stream: true })) {
          if (ev.type === "content_block_delta") seen.messages++;
          if (ev.type === "message_stop") return { complete: true, error: null };
        }
        return { complete: false, error: null };
      } catch (e) {
        return { complete: false, error: e as Error };
      }
    })();
    const responses = (async () => {
      const events: { type: string; code?: unknown; message?: unknown; param?: unknown }[] = [];
      try {
        for await (const ev of await openai.responses.create({ model: MODEL, input: "hi", stream: true })) {
          events.push(ev as (typeof events)[number]);
          if (ev.type === "response.output_text.delta") seen.responses++;
        }
        return { events, error: null };
      } catch (e) {
        return { events, error: e as Error };
      }
    })();
    for (let i = 0; i < 200 && (seen.messages < 2 || seen.responses < 2); i++) await Bun.sleep(20);
    expect(Math.min(seen.messages, seen.responses)).toBeGreaterThanOrEqual(2);
    d.proc.kill("SIGKILL");
    // Anthropic's SDK throws an APIError for the Messages API's own error event, with the relay's sentence in it.
    const m = await messages;
    expect(m.complete).toBe(false);
    expect(m.error).toBeInstanceOf(Anthropic.APIError);
    expect((m.error as InstanceType<typeof Anthropic.APIError>).error).toEqual({ type: "error", error: { type: "api_error", message: expect.stringMatching(DISCONNECTED) } });
    // The Responses API's error event is an event of the stream (as OpenAI sends it): the last one, never a completion.
    const r = await responses;
    expect(r.error).toBeNull();
    expect(r.events.some((e) => e.type === "response.completed")).toBe(false);
    expect(r.events.at(-1)).toEqual({ type: "error", code: "tunnel_offline", message: expect.stringMatching(DISCONNECTED), param: null });
  }, 30_000);

  test("the agent's heartbeat lost mid-stream (daemon frozen with SIGSTOP): after the tolerance, the same last error in each dialect", async () => {
    const d = await agent();
    const clients = clientStreams();
    const raw = rawStreams();
    await clients.started();
    d.proc.kill("SIGSTOP");
    try {
      expectDialectEndings(await clients.ollama, await clients.openai, { ndjson: await raw.ndjson, sse: await raw.sse });
      expect((await clients.ollama).error?.message).toContain("heartbeat_timeout");
    } finally {
      d.proc.kill("SIGKILL");
    }
  }, 30_000);

  test("the tunnel stopped from the control API mid-stream: the same last error in each dialect", async () => {
    const d = await agent();
    const token = (await Bun.file(`${d.home}/.config/cloudtolocalllm/api-token`).text()).trim();
    const clients = clientStreams();
    const raw = rawStreams();
    await clients.started();
    const res = await fetch(`${d.urls.api}/api/v1/tunnel/stop`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expectDialectEndings(await clients.ollama, await clients.openai, { ndjson: await raw.ndjson, sse: await raw.sse });
    await d.stop();
  }, 30_000);

  test("SIGTERM to the daemon: in-flight streams finish completely, then the agent leaves and the daemon exits 0", async () => {
    const d = await agent();
    const clients = clientStreams();
    await clients.started();
    d.proc.kill("SIGTERM");
    const [o, a] = [await clients.ollama, await clients.openai];
    expect(o).toEqual({ chunks: TOKENS + 1, complete: true, error: null });
    expect(a.error).toBeNull();
    expect(a.complete).toBe(true);
    expect(await d.proc.exited).toBe(0);
    expect(d.count(/^\S+Z info tunnel: letting in-flight requests finish before disconnecting streams=2 /)).toBe(1);
    // The two answers finished during the stop have their request lines (before: none, the request log stopped first).
    expect(d.count(/^\S+Z info request: 200 POST \/(api\/chat|v1\/chat\/completions) model=tiny:1b upstream=fake from=tunnel /)).toBe(2);
    await relay.waitFor(/agent disconnected tunnel=alice .*going away: all streams finished/);
  }, 30_000);

  test("SIGTERM to the daemon past its go_away_grace: the answers still running end with the relay's sentence naming it; the daemon's request lines say the tunnel closed, not that the client left", async () => {
    const d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: 'go_away_grace = "300ms"' }));
    daemons.push(d);
    const clients = clientStreams();
    await clients.started();
    d.proc.kill("SIGTERM");
    const [o, a] = [await clients.ollama, await clients.openai];
    const why = /^tunnel "alice" disconnected in the middle of the answer \(.*the daemon is stopping \(grace period over\).*\); the answer is incomplete$/;
    expect({ complete: o.complete, error: o.error?.message }).toEqual({ complete: false, error: expect.stringMatching(why) });
    expect(a.error).toBeInstanceOf(OpenAI.APIError);
    expect(a.error!.message).toMatch(why);
    expect(await d.proc.exited).toBe(0);
    // Before: error="client closed the connection" on both lines, as if the cloud client had gone away.
    const lines = d.stderr().split("\n").filter((l) => / info request: 200 POST \S+ model=tiny:1b .*from=tunnel /.test(l));
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/ error="the tunnel connection closed \(normal: the daemon is stopping \(grace period over\)\); the answer is incomplete"$/);
  }, 30_000);

  test("the relay's own shutdown (SIGTERM) past go_away_grace: answers still running end with the relay's sentence, not a reset", async () => {
    const own = await startRelayProc(relayToml({ extra: 'go_away_grace = "500ms"' }));
    try {
      await agent(own);
      const clients = clientStreams(own);
      const raw = rawStreams(own);
      await clients.started();
      own.proc.kill("SIGTERM");
      expectDialectEndings(await clients.ollama, await clients.openai, { ndjson: await raw.ndjson, sse: await raw.sse });
      expect((await clients.ollama).error?.message).toContain("grace period over");
      expect(await own.proc.exited).toBe(0);
      expectStructuredLog(own, "relay");
    } finally {
      await own.stop();
      cleanup(own.dir);
    }
  }, 30_000);

  test("the relay's log after agents die with streams in flight: one structured line each, the session end at info, no stack dumps", async () => {
    const d = await agent();
    const streams = [clientStreams(), clientStreams(), clientStreams()];
    for (const s of streams) await s.started();
    // Counted by its code: the sessions the relay itself closed in the tests before say why (normal, replaced), not this.
    const lost = /^\S+Z info relay: agent disconnected tunnel=alice code=transport_closed/;
    const before = relay.count(lost);
    d.proc.kill("SIGKILL");
    const ended = await Promise.all(streams.flatMap((s) => [s.ollama, s.openai]));
    await Bun.sleep(200);
    expectStructuredLog(relay, "relay");
    expect(relay.count(lost)).toBe(before + 1);
    // One line per answer cut short, at info: the agent going away is an expected ending.
    expect(relay.count(/^\S+Z info relay: answer cut short tunnel=alice .*code=session_closed/)).toBeGreaterThanOrEqual(6);
    for (const o of ended) expect(o.error?.message).toMatch(DISCONNECTED);
  }, 30_000);

  test("an answer with no in-band error (stream:false JSON) cut mid-body fails at the client, never looks complete; both logs stay one line each", async () => {
    // An upstream whose JSON answer breaks off after its first bytes (no Error object: the upstream itself logs nothing).
    const upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const p = new URL(req.url).pathname;
        if (p === "/api/version") return Response.json({ version: "0.6.0" });
        if (p === "/api/tags") return Response.json({ models: [{ name: MODEL, model: MODEL }] });
        let sent = false;
        const body = new ReadableStream<Uint8Array>({
          async pull(c) {
            if (sent) return c.error(undefined);
            sent = true;
            c.enqueue(new TextEncoder().encode(`{"model":"${MODEL}","message":{"role":"assistant","content":"${"x".repeat(2000)}`));
            await Bun.sleep(100);
          },
        });
        return new Response(body, { headers: { "content-type": "application/json; charset=utf-8" } });
      },
    });
    try {
      const d = await startAgentDaemon(daemonToml({ upstream: `http://127.0.0.1:${upstream.port}`, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
      daemons.push(d);
      const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
        method: "POST",
        headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ ...chat, stream: false }),
      });
      expect(res.status).toBe(200);
      expect(await res.text().then(() => "complete", (e: Error) => `failed: ${e.message}`)).toStartWith("failed");
      await Bun.sleep(300);
      await d.stop();
      expectStructuredLog(d, "broker");
      expectStructuredLog(relay, "relay");
      expect(d.count(/^\S+Z warn broker: upstream broke off mid-stream /)).toBe(1);
      expect(relay.count(/^\S+Z warn relay: answer cut short tunnel=alice path=\/api\/chat code=cancel /)).toBe(1);
    } finally {
      upstream.stop(true);
    }
  }, 30_000);

  test("the daemon's log when its relay dies with streams in flight: one structured line each, no stack dumps", async () => {
    const own = await startRelayProc(relayToml());
    try {
      const d = await agent(own);
      const streams = [clientStreams(own), clientStreams(own)];
      for (const s of streams) await s.started();
      own.proc.kill("SIGKILL");
      for (const s of streams) expect((await s.ollama).error).not.toBeNull();
      await d.waitFor(/relay connection failed; retrying|connection lost/);
      await Bun.sleep(300);
      await d.stop();
      expectStructuredLog(d, "tunnel");
    } finally {
      await own.stop();
      cleanup(own.dir);
    }
  }, 30_000);
});

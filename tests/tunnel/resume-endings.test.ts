// How a held answer ends when the link is cut around its end, through real processes (the agent reaches the relay
// through a proxy whose open connections can be cut, so the agent's next connection goes through): an END or an
// upstream's error sent into the cut still reaches the client after the resume, every token once; an upload cut
// mid-way fails at once with the error in the caller's dialect.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startBlackholeProxy, startRelayProc, type RelayProc } from "./helpers.ts";
import { DIALECTS, metric, streamingCall, tokensIn } from "./resume-helpers.ts";

const TOKENS = 12;
let fake: FakeOllama;
let relay: RelayProc;
let proxy: Awaited<ReturnType<typeof startBlackholeProxy>>;
let daemon: DaemonProc;

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: TOKENS, tokenDelayMs: 50 });
  // A short window: an answer the agent forgot would end with the error line after it, not hang the test.
  relay = await startRelayProc(relayToml({ extra: 'resume_window = "8s"' }));
  proxy = await startBlackholeProxy({ host: "127.0.0.1", port: relay.port });
  // Model management on: an upload to /api/blobs crosses the tunnel.
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${proxy.port}/agent`, tunnel: "allow_model_management = true" }));
}, 30_000);

afterAll(async () => {
  await daemon?.stop();
  proxy?.stop();
  await relay?.stop("SIGKILL");
  await fake?.stop();
  cleanup(daemon?.home, relay?.dir);
});

/**
 * Cuts the agent's link; the upstream's last tokens and its end are written into the cut (the agent notices the loss
 * only after its 1.2 s tolerance, the rest of the generation takes ~0.6 s). Resolves once the agent is back.
 */
async function cutThroughTheEnd(): Promise<void> {
  const lost = daemon.count(/heartbeat_timeout/);
  const connected = daemon.count(/tunnel: connected to the relay/);
  proxy.cut();
  await until(() => daemon.count(/heartbeat_timeout/) > lost || null, 5_000, "the agent to notice the cut");
  // The generations ended before the agent noticed: their ends went into the cut link.
  expect(fake.concurrency.now).toBe(0);
  await until(() => daemon.count(/tunnel: connected to the relay/) > connected || null, 5_000, "the agent to reconnect");
}

describe("the end of a held answer sent into a cut link", () => {
  test("the upstream's last tokens and its end while the link is cut: after the resume NDJSON and SSE end properly, every token once; one generation each", async () => {
    const before = fake.requests.length;
    const resumed = await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total");
    const calls = DIALECTS.map((d) => streamingCall(relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    const t0 = performance.now();
    await cutThroughTheEnd();
    const texts = await Promise.all(calls.map((c) => c.done));
    for (const [i, d] of DIALECTS.entries()) {
      expect(tokensIn(texts[i]!)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
      expect(texts[i]!).toMatch(d.done);
      expect(texts[i]!).not.toMatch(/"error"/);
    }
    // Resumed, not waited out: well within the relay's 8 s window.
    expect(performance.now() - t0).toBeLessThan(6_000);
    const generations = fake.requests.slice(before).filter((r) => DIALECTS.some((d) => d.path === r.path));
    expect(generations.length).toBe(2);
    expect(fake.aborts).toEqual([]);
    expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(resumed + 2);
  }, 30_000);

  test("an upstream that fails while the link is cut: after the resume each client gets the tokens once, then the same error ending as without a cut", async () => {
    fake.options.dieAfterTokens = 8;
    try {
      // Without a cut: how such an answer ends in each dialect.
      const plain = await Promise.all(DIALECTS.map((d) => streamingCall(relay.url, d).done));
      const calls = DIALECTS.map((d) => streamingCall(relay.url, d));
      await Promise.all(calls.map((c) => c.started));
      await cutThroughTheEnd();
      const texts = await Promise.all(calls.map((c) => c.done));
      for (const [i, text] of texts.entries()) {
        expect(tokensIn(text)).toEqual(tokensIn(plain[i]!));
        expect(tokensIn(text)).toEqual(Array.from({ length: tokensIn(text).length }, (_, k) => k));
        expect(text).not.toMatch(/did not resume it/);
        const ending = (t: string) => t.trimEnd().split("\n").at(-1);
        expect(ending(plain[i]!)).toMatch(/error/);
        expect(ending(text)).toBe(ending(plain[i]!));
      }
    } finally {
      fake.options.dieAfterTokens = undefined;
    }
  }, 30_000);
});

describe("an upload cut by the loss of the session", () => {
  const UPLOADS = [
    { dialect: "Ollama", path: `/api/blobs/sha256:${"ab".repeat(32)}`, error: (j: unknown) => (j as { error: string }).error },
    { dialect: "OpenAI", path: "/v1/chat/completions", error: (j: unknown) => (j as { error: { message: string; code: string } }).error.message },
  ];
  for (const u of UPLOADS) {
    test(`fails at once with the error in the caller's dialect (${u.dialect}), not a hang; the agent is back for the next call`, async () => {
      let sent = 0;
      const chunk = new Uint8Array(16 * 1024).fill(32);
      // A body that never ends on its own: only the cut can end the call.
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          await Bun.sleep(20);
          sent += chunk.length;
          c.enqueue(sent === chunk.length ? new TextEncoder().encode(`{"model":"llama3.2:1b","messages":[{"role":"user","content":"`) : chunk);
        },
      });
      const t0 = performance.now();
      const res = fetch(`${relay.url}/t/${TUNNEL_ID}${u.path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/octet-stream" },
        body,
        duplex: "half",
      } as RequestInit);
      await until(() => sent > 256 * 1024 || null, 5_000, "the upload to be under way");
      proxy.cut();
      const r = await res;
      const text = await r.text();
      // The session is declared dead after 1.2 s; the answer comes then.
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(r.status).toBe(502);
      expect(u.error(JSON.parse(text))).toMatch(/^tunnel "alice" disconnected before answering/);
      await until(async () => (await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } })).status === 200 || null, 10_000, "the tunnel to be back");
    }, 30_000);
  }
});

describe("a request whose upstream has not answered yet when the session is lost", () => {
  test("the client gets 502 in its dialect, the upstream request is cancelled, and the daemon's request line says the tunnel connection was lost, not that the client left", async () => {
    // A stream:false answer comes whole after its last token (3 s): the head has not crossed when the link is cut.
    const delay = fake.options.tokenDelayMs;
    fake.options.tokenDelayMs = 250;
    const aborted = fake.aborts.length;
    const sent = fake.requests.length;
    const requestLine = / info request: 499 POST \/v1\/chat\/completions /;
    const logged = daemon.count(requestLine);
    try {
      const res = fetch(`${relay.url}/t/${TUNNEL_ID}/v1/chat/completions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }),
      });
      await until(() => fake.requests.slice(sent).some((r) => r.path === "/v1/chat/completions") || null, 5_000, "the request to reach the upstream");
      proxy.cut();
      const r = await res;
      expect(r.status).toBe(502);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/^tunnel "alice" disconnected before answering/);
      await until(() => fake.aborts.length > aborted || null, 5_000, "the upstream request cancelled");
      await until(() => daemon.count(requestLine) > logged || null, 5_000, "the daemon's request line");
      const line = daemon.stderr().split("\n").filter((l) => requestLine.test(l)).at(-1)!;
      expect(line).toMatch(/ error="the tunnel connection closed \(heartbeat_timeout: no frame from the peer for \d+ ms \(tolerance 1200 ms\)\); no answer was sent"$/);
      await until(async () => (await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } })).status === 200 || null, 10_000, "the tunnel to be back");
    } finally {
      fake.options.tokenDelayMs = delay;
    }
  }, 30_000);
});

describe("a non-streamed answer bigger than a small answer's BATCH", () => {
  test("its head and first half cross, the rest and its end go into the cut: after the resume the client has the whole JSON once", async () => {
    const SIZE = 24 * 1024;
    const whole = JSON.stringify({ model: "llama3.2:1b", response: "x".repeat(SIZE), done: true });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let generations = 0;
    // An upstream that sends the first half of a sized answer, then the rest once the test has cut the link; anything
    // else goes to the fake (the daemon's health checks).
    const upstream = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path !== "/api/generate") return fetch(`${fake.url}${path}`, { method: req.method, headers: req.headers, body: req.body });
        generations++;
        const bytes = new TextEncoder().encode(whole);
        const half = bytes.length >> 1;
        const body = new ReadableStream<Uint8Array>({
          async start(c) {
            c.enqueue(bytes.subarray(0, half));
            await gate;
            c.enqueue(bytes.subarray(half));
            c.close();
          },
        });
        return new Response(body, { headers: { "content-type": "application/json; charset=utf-8", "content-length": String(bytes.length) } });
      },
    });
    const agentProxy = await startBlackholeProxy({ host: "127.0.0.1", port: relay.port });
    // The suite's agent leaves: this one, with the slow upstream, serves the tunnel meanwhile.
    await daemon.stop();
    const agent = await startAgentDaemon(daemonToml({ upstream: upstream.url.href.replace(/\/$/, ""), relayUrl: `ws://127.0.0.1:${agentProxy.port}/agent` }));
    try {
      const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, {
        method: "POST",
        headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "llama3.2:1b", prompt: "big", stream: false }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const parts: Uint8Array[] = [];
      let got = 0;
      while (got < whole.length >> 1) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
        got += value.length;
      }
      const lost = agent.count(/heartbeat_timeout/);
      agentProxy.cut();
      release();
      await until(() => agent.count(/heartbeat_timeout/) > lost || null, 5_000, "the agent to notice the cut");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
      }
      expect(Buffer.concat(parts).toString()).toBe(whole);
      expect(generations).toBe(1);
    } finally {
      await agent.stop();
      agentProxy.stop();
      upstream.stop(true);
      cleanup(agent.home);
    }
  }, 30_000);
});

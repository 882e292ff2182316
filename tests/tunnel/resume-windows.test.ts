// Resume windows agreed in HELLO/WELCOME, through real processes: when the agent's window and the relay's differ, both
// use the shorter, so a client is not kept waiting for an answer its agent gave up, and a generation no client waits for
// any more is not kept running on the GPU.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc } from "./helpers.ts";
import { DIALECTS, streamingCall, tokensIn } from "./resume-helpers.ts";

let fake: FakeOllama;

beforeAll(async () => {
  // Long answers: still generating when a window ends.
  fake = await startFakeOllama({ tokens: 400, tokenDelayMs: 50 });
});

afterAll(() => fake?.stop());

async function pair(relayWindow: string, agentWindow: string) {
  const relay = await startRelayProc(relayToml({ extra: `resume_window = "${relayWindow}"` }));
  const agent = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: `resume_window = "${agentWindow}"` }));
  return {
    relay,
    agent,
    async stop() {
      relay.proc.kill("SIGCONT");
      await agent.stop();
      await relay.stop("SIGKILL");
      cleanup(agent.home, relay.dir);
    },
  };
}

test("the agent's window shorter than the relay's: once the agent gave up, the client's NDJSON and SSE answers end with the error line naming the agent's window, not after the relay's", async () => {
  const p = await pair("30s", "1500ms");
  const aborted = fake.aborts.length;
  try {
    const calls = DIALECTS.map((d) => streamingCall(p.relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    // The relay frozen until the agent declared its session dead and gave up both answers (its 1.5 s window).
    p.relay.proc.kill("SIGSTOP");
    await p.agent.waitFor(/heartbeat_timeout/, 10_000);
    await fake.waitForAborts(aborted + 2, 10_000);
    const t0 = performance.now();
    p.relay.proc.kill("SIGCONT");
    const [ndjson, sse] = (await Promise.all(calls.map((c) => c.done))) as [string, string];
    // The relay waited the agreed 1.5 s, not its own 30 s.
    expect(performance.now() - t0).toBeLessThan(15_000);
    const why = /and its agent did not resume it within 1\.5s; the answer is incomplete$/;
    expect(JSON.parse(ndjson.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
    const event = /event: error\ndata: (.*)\n\n$/.exec(sse);
    expect(event).not.toBeNull();
    expect(JSON.parse(event![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
    for (const t of [ndjson, sse]) {
      const seen = tokensIn(t);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => k));
    }
  } finally {
    await p.stop();
  }
}, 60_000);

test("the relay's window shorter than the agent's: the agent holds an answer only for the relay's window, then cancels its generation", async () => {
  const p = await pair("1500ms", "30s");
  const aborted = fake.aborts.length;
  try {
    const calls = DIALECTS.map((d) => streamingCall(p.relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    // The relay frozen for good: no client can get these answers after its 1.5 s window.
    p.relay.proc.kill("SIGSTOP");
    await p.agent.waitFor(/heartbeat_timeout/, 10_000);
    const line = await p.agent.waitFor(/an answer was not resumed in time/, 15_000);
    expect(line).toMatch(/resume_window_ms=1500\b/);
    await fake.waitForAborts(aborted + 2, 5_000);
  } finally {
    await p.stop();
  }
}, 60_000);

test("the relay frozen past the heartbeat tolerance and the whole agreed window (the agent gave the answers up meanwhile): once it wakes, its clients get the error line at once, not after another window", async () => {
  const p = await pair("8s", "8s");
  const aborted = fake.aborts.length;
  try {
    const calls = DIALECTS.map((d) => streamingCall(p.relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    p.relay.proc.kill("SIGSTOP");
    await p.agent.waitFor(/heartbeat_timeout/, 10_000);
    // The agent's window ran out while the relay slept: nothing will offer these answers again.
    await fake.waitForAborts(aborted + 2, 20_000);
    const t0 = performance.now();
    p.relay.proc.kill("SIGCONT");
    const [ndjson, sse] = (await Promise.all(calls.map((c) => c.done))) as [string, string];
    // Its window counts from when the agent's silence passed its tolerance, not from when it woke to notice: before, the
    // clients waited 8 s more for an answer its agent had given up.
    expect(performance.now() - t0).toBeLessThan(4_000);
    const why = /heartbeat_timeout: no frame from the peer for \d+ ms \(tolerance 1200 ms\)\)+ and its agent did not resume it within 8s; the answer is incomplete$/;
    expect(JSON.parse(ndjson.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
    const event = /event: error\ndata: (.*)\n\n$/.exec(sse);
    expect(event).not.toBeNull();
    expect(JSON.parse(event![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
    for (const t of [ndjson, sse]) {
      const seen = tokensIn(t);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => k));
    }
  } finally {
    await p.stop();
  }
}, 60_000);

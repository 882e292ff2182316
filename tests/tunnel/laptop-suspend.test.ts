// A laptop's sleep, through real processes: the whole daemon (agent and broker, one process) frozen with SIGSTOP while
// answers stream, then woken. Within the relay's resume window the answers go on, every token once; past it the
// clients got the error line in their dialect, and the woken agent reconnects at once, gives up what it held (the
// relay refuses it) and serves new calls.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc } from "./helpers.ts";
import { DIALECTS, metric, streamingCall, tokensIn } from "./resume-helpers.ts";

const TOKENS = 60;
let fake: FakeOllama;

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: TOKENS, tokenDelayMs: 50 });
});

afterAll(() => fake?.stop());

async function laptop(relayWindow: string) {
  const relay = await startRelayProc(relayToml({ extra: `resume_window = "${relayWindow}"` }));
  const agent = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  return {
    relay,
    agent,
    async stop() {
      agent.proc.kill("SIGCONT");
      await agent.stop();
      await relay.stop("SIGKILL");
      cleanup(agent.home, relay.dir);
    },
  };
}

const connectedLines = (stderr: string) => stderr.split("\n").filter((l) => /tunnel: connected to the relay/.test(l)).length;

test("a short sleep (past the heartbeat tolerance, within the resume window): NDJSON and SSE answers go on, every token once and in order, one generation each", async () => {
  const p = await laptop("20s");
  try {
    const before = fake.requests.length;
    const calls = DIALECTS.map((d) => streamingCall(p.relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    p.agent.proc.kill("SIGSTOP");
    // The relay declares the agent dead (tolerance 1.2 s) and keeps its clients waiting.
    await p.relay.waitFor(/agent disconnected .*heartbeat_timeout/, 10_000);
    await Bun.sleep(500);
    p.agent.proc.kill("SIGCONT");
    const texts = await Promise.all(calls.map((c) => c.done));
    for (const [i, d] of DIALECTS.entries()) {
      expect(tokensIn(texts[i]!)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
      expect(texts[i]!).toMatch(d.done);
      expect(texts[i]!).not.toMatch(/"error"/);
    }
    expect(fake.requests.slice(before).filter((r) => DIALECTS.some((d) => d.path === r.path)).length).toBe(2);
    expect(await metric(p.relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(2);
    expect(p.agent.stderr()).not.toMatch(/uncaught|unhandled|panic/i);
  } finally {
    await p.stop();
  }
}, 60_000);

test("a long sleep (past the tolerance and the resume window): the clients got the error line in their dialect; the woken agent reconnects at once, its held generations are cancelled, and a new call works", async () => {
  const p = await laptop("1500ms");
  const aborted = fake.aborts.length;
  fake.options.tokens = 400;
  try {
    const calls = DIALECTS.map((d) => streamingCall(p.relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    const connected = connectedLines(p.agent.stderr());
    p.agent.proc.kill("SIGSTOP");
    const [ndjson, sse] = (await Promise.all(calls.map((c) => c.done))) as [string, string];
    const why = /and its agent did not resume it within 1\.5s; the answer is incomplete$/;
    expect(JSON.parse(ndjson.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
    expect(JSON.parse(/event: error\ndata: (.*)\n\n$/.exec(sse)![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
    await Bun.sleep(500);
    // Woken: its timers are all late at once. The session is seen dead at the first tick (no waiting out a tolerance
    // on a socket the relay closed long ago), and the agent is back within its backoff.
    p.agent.proc.kill("SIGCONT");
    await until(() => connectedLines(p.agent.stderr()) > connected || null, 5_000, "the woken agent to reconnect");
    // The relay no longer has clients for the held answers: it refuses them and the upstream requests stop now.
    await fake.waitForAborts(aborted + 2, 5_000);
    fake.options.tokens = 3;
    const again = streamingCall(p.relay.url, DIALECTS[0]);
    expect(tokensIn(await again.done)).toEqual([0, 1, 2]);
    // One reconnect, no crash, no answer sent twice.
    expect(connectedLines(p.agent.stderr())).toBe(connected + 1);
    expect(p.agent.stderr()).not.toMatch(/uncaught|unhandled|panic/i);
  } finally {
    fake.options.tokens = TOKENS;
    await p.stop();
  }
}, 60_000);

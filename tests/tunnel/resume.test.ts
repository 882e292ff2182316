// Answers that outlive the tunnel session, through real processes: a relay paused past the heartbeat tolerance, then
// resumed; every token reaches the client once and in order, the upstream generates once; past the resume window the
// client gets the error line in its dialect.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";
import { DIALECTS, metric, pauseRelayPastTolerance, streamingCall, tokensIn } from "./resume-helpers.ts";

const TOKENS = 40;
let rig: TunnelRig;
let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: TOKENS, tokenDelayMs: 60 }, relayToml: relayToml({ extra: 'resume_window = "20s"' }) });
  ({ fake, relay, daemon } = rig);
}, 30_000);

afterAll(() => rig?.stop());

describe("resumable streams", () => {
  test("a relay paused past the heartbeat tolerance mid-stream, then resumed: NDJSON and SSE end with every token once, in order; one generation each", async () => {
    const before = fake.requests.length;
    const calls = DIALECTS.map((d) => streamingCall(relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    await pauseRelayPastTolerance(relay, daemon);
    const texts = await Promise.all(calls.map((c) => c.done));
    for (const [i, d] of DIALECTS.entries()) {
      expect(tokensIn(texts[i]!)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
      expect(texts[i]!).toMatch(d.done);
      expect(texts[i]!).not.toMatch(/"error"/);
    }
    const generations = fake.requests.slice(before).filter((r) => DIALECTS.some((d) => d.path === r.path));
    expect(generations.length).toBe(2);
    expect(fake.aborts).toEqual([]);
    expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(2);
    expect(await metric(relay.url, "cloudtolocalllm_relay_resume_failed_total")).toBe(0);
    // Bytes that crossed twice (received before the loss, not yet delivered): counted, possibly none.
    expect(await (await fetch(`${relay.url}/metrics`)).text()).toMatch(/^cloudtolocalllm_relay_replayed_bytes_total \d+/m);
    const token = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
    await until(async () => (await metric(daemon.urls.api!, "cloudtolocalllm_tunnel_resumed_streams_total", { Authorization: `Bearer ${token}` })) === 2 || null, 5_000, "the agent to count 2 resumed streams");
    // The dashboard's inspector reads these records: each answer is marked resumed.
    const records = await until(async () => {
      const r = (await (await fetch(`${daemon.urls.api}/api/v1/requests`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { requests: { path: string; source: string; resumed?: { count: number; replayedBytes: number } }[] };
      const mine = r.requests.filter((x) => x.source === "tunnel" && DIALECTS.some((d) => d.path === x.path));
      return mine.length === 2 ? mine : null;
    }, 5_000, "the inspector's records of both answers");
    for (const rec of records) expect(rec.resumed).toEqual({ count: 1, replayedBytes: expect.any(Number) });
  }, 40_000);

  test("past the resume window the client's NDJSON and SSE streams end with the error line in their dialect, and the upstream request is cancelled", async () => {
    const short = await startRelayProc(relayToml({ extra: 'resume_window = "1500ms"' }));
    const agent = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${short.url.replace(/^http/, "ws")}/agent`, tunnel: 'resume_window = "1500ms"' }));
    const aborted = fake.aborts.length;
    // Long enough to still run when the agent's own window ends.
    fake.options.tokens = 400;
    try {
      const calls = DIALECTS.map((d) => streamingCall(short.url, d));
      await Promise.all(calls.map((c) => c.started));
      // The agent frozen: the relay declares its session dead after 1.2 s, then waits 1.5 s for a resume.
      agent.proc.kill("SIGSTOP");
      const texts = await Promise.all(calls.map((c) => c.done));
      agent.proc.kill("SIGCONT");
      const [ndjson, sse] = texts as [string, string];
      const why = /^tunnel "alice" disconnected in the middle of the answer \(the tunnel connection closed \(.*heartbeat_timeout: .*\)\) and its agent did not resume it within 1\.5s; the answer is incomplete$/;
      expect(JSON.parse(ndjson.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
      const event = /event: error\ndata: (.*)\n\n$/.exec(sse);
      expect(event).not.toBeNull();
      expect(JSON.parse(event![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
      // Neither answer came whole, and each token that came, came once and in order.
      for (const t of texts) {
        const seen = tokensIn(t);
        expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => k));
        expect(seen.length).toBeLessThan(400);
      }
      expect(await metric(short.url, "cloudtolocalllm_relay_resume_failed_total")).toBe(2);
      const token = (await Bun.file(`${agent.home}/.config/cloudtolocalllm/api-token`).text()).trim();
      await until(async () => (await metric(agent.urls.api!, "cloudtolocalllm_tunnel_resume_failed_total", { Authorization: `Bearer ${token}` })) === 2 || null, 10_000, "the agent to count 2 failed resumes");
      // Back from its freeze, the agent holds the answers for its own window, then cancels both upstream requests.
      await until(() => fake.aborts.length - aborted >= 2 || null, 10_000, "the upstream to see both requests cancelled");
    } finally {
      fake.options.tokens = TOKENS;
      agent.proc.kill("SIGCONT");
      await agent.stop();
      await short.stop("SIGKILL");
      cleanup(agent.home, short.dir);
    }
  }, 40_000);
});

// The resume fallback with real processes of the release before it (docs/protocol.md, Handshake: "resume"): the link
// lost mid-stream between an old relay and this agent, and between this relay and an old agent. Each answer ends at
// once with the error line in its dialect (nothing waits for a resume the other side cannot make), the upstream
// generation stops, and the tunnel serves the next call.
import { expect } from "bun:test";
import { removeHome, startDaemon } from "../helpers/daemon.ts";
import { BEFORE_SCHEDULING, commitPresent } from "../helpers/old-release.ts";
import { oldPeer } from "../helpers/old-peer.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startRelayProc } from "./helpers.ts";
import { DIALECTS, pauseRelayPastTolerance, streamingCall, tokensIn } from "./resume-helpers.ts";

// The release before scheduling is also the one before resume (neither lists "resume").
const { test } = requireTools(["git", commitPresent(BEFORE_SCHEDULING)]);
const TOKENS = 400;

const peer = oldPeer({ tokens: TOKENS, tokenDelayMs: 20 });

async function cutMidStream(relayMain: string | undefined, agentBinary: string | undefined): Promise<void> {
  // A long window: an answer that waited for it would show.
  const relay = await startRelayProc(relayToml({ extra: relayMain ? "" : 'resume_window = "30s"' }), undefined, [], relayMain);
  const daemon = await startDaemon({
    binary: agentBinary,
    config: daemonToml({ upstream: peer.fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
  });
  try {
    await daemon.waitFor(/tunnel: connected to the relay/, 15_000);
    const aborts = peer.fake.aborts.length;
    const calls = DIALECTS.map((d) => streamingCall(relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    await pauseRelayPastTolerance(relay, daemon);
    const t0 = performance.now();
    const [ndjson, sse] = (await Promise.all(calls.map((c) => c.done))) as [string, string];
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(JSON.parse(ndjson.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(/^tunnel "alice" disconnected in the middle of the answer/) });
    expect(sse).toMatch(/event: error\ndata: .*disconnected in the middle of the answer.*\n\n$/);
    for (const t of [ndjson, sse]) {
      const seen = tokensIn(t);
      expect(seen.length).toBeLessThan(TOKENS);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => k));
    }
    // Both generations stop (the agent holds nothing for a relay that cannot resume).
    await peer.fake.waitForAborts(aborts + 2, 5_000);
    await until(async () => (await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } })).status === 200, 10_000, "the agent back, serving");
  } finally {
    await daemon.stop();
    await relay.stop();
    cleanup(relay.dir);
    removeHome(daemon.home);
  }
}

test(`the relay of the previous release (${BEFORE_SCHEDULING}) with this agent, the link lost mid-stream: the error line at once, generations stopped`, () => cutMidStream(peer.old.main, undefined), 60_000);
test(`this relay with the agent of the previous release (${BEFORE_SCHEDULING}), the link lost mid-stream: the error line at once, not after the resume window`, () => cutMidStream(undefined, peer.old.binary), 60_000);

// A relay stopped with SIGTERM (an upgrade) while answers are in flight, with real processes of the previous release
// on one side (docs/protocol.md, GO_AWAY): an old relay with this agent and this relay with an old agent. The relay
// sends GO_AWAY and lets every answer in flight finish whole before it exits.
import { expect } from "bun:test";
import { removeHome, startDaemon } from "../helpers/daemon.ts";
import { BEFORE_SCHEDULING, commitPresent } from "../helpers/old-release.ts";
import { oldPeer } from "../helpers/old-peer.ts";
import { requireTools } from "../helpers/requires.ts";
import { AGENT_TOKEN, cleanup, daemonToml, relayToml, startRelayProc } from "./helpers.ts";
import { DIALECTS, streamingCall, tokensIn } from "./resume-helpers.ts";

const { test } = requireTools(["git", commitPresent(BEFORE_SCHEDULING)]);
const TOKENS = 100;

const peer = oldPeer({ tokens: TOKENS, tokenDelayMs: 20 });

async function stopMidStream(relayMain: string | undefined, agentBinary: string | undefined): Promise<void> {
  const relay = await startRelayProc(relayToml({ extra: 'go_away_grace = "10s"' }), undefined, [], relayMain);
  const daemon = await startDaemon({
    binary: agentBinary,
    config: daemonToml({ upstream: peer.fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
  });
  try {
    await daemon.waitFor(/tunnel: connected to the relay/, 15_000);
    const calls = DIALECTS.map((d) => streamingCall(relay.url, d));
    await Promise.all(calls.map((c) => c.started));
    relay.proc.kill("SIGTERM");
    const [ndjson, sse] = (await Promise.all(calls.map((c) => c.done))) as [string, string];
    expect(ndjson).toContain('"done":true');
    expect(sse).toEndWith("data: [DONE]\n\n");
    for (const t of [ndjson, sse]) expect(tokensIn(t)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
    expect(await relay.proc.exited).toBe(0);
    expect(relay.stderr()).toContain("going away: all streams finished");
  } finally {
    await daemon.stop();
    await relay.stop();
    cleanup(relay.dir);
    removeHome(daemon.home);
  }
}

test(`the relay of the previous release (${BEFORE_SCHEDULING}) stopped with SIGTERM mid-stream, this agent: every answer finishes whole`, () => stopMidStream(peer.old.main, undefined), 60_000);
test(`this relay stopped with SIGTERM mid-stream, the agent of the previous release (${BEFORE_SCHEDULING}): every answer finishes whole`, () => stopMidStream(undefined, peer.old.binary), 60_000);

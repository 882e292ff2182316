// HELLO.maxStreams with real processes of the release before it (docs/protocol.md, Streams): the relay of the
// previous release reads this agent's HELLO (the field dropped by its codec) and serves through it; this relay with the
// agent of the previous release, which names no limit, opens streams up to its own [limits] max_streams as before, and
// what the old agent refuses past its max_streams is the 503 it always was.
import { expect } from "bun:test";
import { removeHome, startDaemon } from "../helpers/daemon.ts";
import { BEFORE_SCHEDULING, commitPresent } from "../helpers/old-release.ts";
import { oldPeer } from "../helpers/old-peer.ts";
import { requireTools } from "../helpers/requires.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startRelayProc } from "./helpers.ts";

const { test } = requireTools(["git", commitPresent(BEFORE_SCHEDULING)]);
const AGENT_MAX = 4;
const peer = oldPeer({ tokens: 10, tokenDelayMs: 100 });

/** `calls` concurrent streamed chats through the relay; each outcome "200 <lines>" or "<status> <body>". */
async function concurrentCalls(relayMain: string | undefined, agentBinary: string | undefined, calls: number): Promise<string[]> {
  const relay = await startRelayProc(relayToml(), undefined, [], relayMain);
  const daemon = await startDaemon({
    binary: agentBinary,
    config: daemonToml({ upstream: peer.fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: `max_streams = ${AGENT_MAX}` }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
  });
  try {
    await daemon.waitFor(/tunnel: connected to the relay/, 15_000);
    const body = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true });
    const headers = { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" };
    const out = await Promise.all(
      Array.from({ length: calls }, async () => {
        const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers, body });
        const text = await r.text();
        return r.status === 200 ? `200 ${text.trim().split("\n").length}` : `${r.status} ${text}`;
      }),
    );
    expect(daemon.stderr()).not.toMatch(/relay connection failed/);
    return out;
  } finally {
    await daemon.stop();
    await relay.stop();
    cleanup(relay.dir);
    removeHome(daemon.home);
  }
}

test(`the relay of the previous release (${BEFORE_SCHEDULING}) takes this agent's HELLO with its max_streams and serves through it`, async () => {
  expect(await concurrentCalls(peer.old.main, undefined, AGENT_MAX)).toEqual(Array.from({ length: AGENT_MAX }, () => "200 11"));
}, 60_000);

test(`this relay with the agent of the previous release (${BEFORE_SCHEDULING}), which names no max_streams: streams up to the relay's own limit, the old agent's refusals past its own as before`, async () => {
  const out = await concurrentCalls(undefined, peer.old.binary, AGENT_MAX * 2);
  const refused = `503 {"error":"the agent refused the request: too many streams (limit ${AGENT_MAX})"}`;
  expect(out.filter((o) => o !== "200 11" && o !== refused)).toEqual([]);
  // The relay did not hold the calls to a limit it was never told: some reached the old agent past its max_streams.
  expect(out.filter((o) => o === "200 11").length).toBeGreaterThanOrEqual(AGENT_MAX);
  expect(out).toContain(refused);
}, 60_000);

// Measured windows and the frame scheduler against the previous release, both ways: an old relay with this agent, this relay with an old agent.
import { expect } from "bun:test";
import { removeHome, startDaemon } from "../helpers/daemon.ts";
import { BEFORE_SCHEDULING, commitPresent } from "../helpers/old-release.ts";
import { oldPeer } from "../helpers/old-peer.ts";
import { requireTools } from "../helpers/requires.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, generatedBody, relayToml, startRelayProc } from "./helpers.ts";

const { test, describe } = requireTools(["git", commitPresent(BEFORE_SCHEDULING)]);
const UPLOAD = 20 * 1024 * 1024;

const peer = oldPeer({ tokens: 3 });

/**
 * With `relayMain` and `agentBinary` (undefined: this checkout): a 20 MB upload, a long answer (the relay's receive
 * window) and chats at the same time, all whole.
 */
async function scenario(relayMain: string | undefined, agentBinary: string | undefined): Promise<void> {
  const relay = await startRelayProc(relayToml(), undefined, [], relayMain);
  const daemon = await startDaemon({
    binary: agentBinary,
    config: daemonToml({ upstream: peer.fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true\n" }),
    env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
  });
  const base = `${relay.url}/t/${TUNNEL_ID}`;
  const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
  const chat = (tokens: number) =>
    fetch(`${base}/api/generate`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: true, options: { num_predict: tokens } }),
    }).then(async (r) => ({ status: r.status, lines: (await r.text()).trim().split("\n").length }));
  try {
    await daemon.waitFor(/tunnel: connected to the relay/, 15_000);
    const digest = `sha256:${"2".repeat(64)}`;
    const before = peer.fake.requests.length;
    const [up, long, ...chats] = await Promise.all([
      fetch(`${base}/api/blobs/${digest}`, { method: "POST", headers: auth, body: generatedBody(UPLOAD), duplex: "half" } as RequestInit),
      chat(20_000), // ~1.5 MB of NDJSON from the agent: the relay's windows at work
      chat(3),
      chat(3),
    ]);
    expect(up.status).toBe(201);
    const blob = peer.fake.requests.slice(before).find((r) => r.path === `/api/blobs/${digest}`);
    expect(blob?.bodySize).toBe(UPLOAD);
    expect(long.status).toBe(200);
    expect(long.lines).toBeGreaterThan(1000);
    for (const c of chats) expect(c.status).toBe(200);
  } finally {
    await daemon.stop();
    await relay.stop();
    cleanup(relay.dir);
    removeHome(daemon.home);
  }
}

describe(`windows and scheduling with the previous release (${BEFORE_SCHEDULING})`, () => {
  test("an old relay with this agent: uploads, long answers and chats at once arrive whole", () => scenario(peer.old.main, undefined), 60_000);
  test("this relay with an old agent: uploads, long answers and chats at once arrive whole", () => scenario(undefined, peer.old.binary), 60_000);
  test("this relay with this agent, the same", () => scenario(undefined, undefined), 60_000);
});

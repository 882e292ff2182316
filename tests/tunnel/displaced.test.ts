// Two daemons with the same tunnel token against one relay: the newer keeps the tunnel, the older stands down as
// `displaced` instead of the two replacing each other forever; a reconnect of the displaced one takes the tunnel back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { TunnelStatus } from "../../src/core/contracts.ts";
import { apiToken, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let fake: FakeOllama;
let relay: RelayProc;
const daemons: DaemonProc[] = [];

beforeAll(async () => {
  fake = await startFakeOllama();
  relay = await startRelayProc(relayToml());
}, 30_000);

afterAll(async () => {
  for (const d of daemons) await d.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, ...daemons.map((d) => d.home));
});

const tunnel = async (d: DaemonProc) => (await (await fetch(`${d.urls.api}/api/v1/tunnel`)).json()) as TunnelStatus;
/** Agent sessions the relay accepted so far (each replacement in a fight is one more). */
const relayConnects = async () => Number(/cloudtolocalllm_relay_agent_connections_total\{result="ok"\} (\d+)/.exec(await (await fetch(`${relay.url}/metrics`)).text())?.[1] ?? 0);
const DISPLACED_LOG = /^\S+Z warn tunnel: another agent took this tunnel over; stopped reconnecting .*error=.*fix=/;

/** The loser is in failed/displaced with its reason and fix, the winner connected, and the relay sees no more connects. */
async function settled(winner: DaemonProc, loser: DaemonProc): Promise<void> {
  const lost = await until(async () => {
    const t = await tunnel(loser);
    return t.lastErrorCode === "displaced" && t;
  }, 10_000, "the older agent to stand down as displaced");
  expect(lost.state).toBe("failed");
  expect(lost.lastError).toMatch(/another agent connected with this tunnel's token and took the tunnel over/);
  expect(lost.fix).toMatch(/stop the agent on the other machine, or take the tunnel back here: `cloudtolocalllm-tunnel tunnel restart`/);
  expect(lost.nextRetry).toBeNull();
  expect((await tunnel(winner)).state).toBe("connected");
  // The fight is over: with 100 ms backoff the old behaviour is several connects a second; now none.
  const before = await relayConnects();
  await Bun.sleep(1_500);
  expect(await relayConnects()).toBe(before);
  expect((await tunnel(winner)).state).toBe("connected");
  expect((await tunnel(loser)).state).toBe("failed");
  // One structured line, no stack.
  expect(loser.count(DISPLACED_LOG)).toBe(1);
  expect(loser.stderr()).not.toMatch(/^\s+at /m);
  const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  expect(r.status).toBe(200);
  await r.body?.cancel();
}

test("two agents on one token: the newer keeps the tunnel, the older stands down displaced; its reconnect takes the tunnel back", async () => {
  const toml = daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, backoff: ["100ms", "200ms"] });
  const older = await startAgentDaemon(toml);
  daemons.push(older);
  const newer = await startAgentDaemon(toml);
  daemons.push(newer);
  await settled(newer, older);
  expect(newer.count(DISPLACED_LOG)).toBe(0);
  // Bounded: the first connects of both, the one reconnect each gets, nothing more.
  expect(await relayConnects()).toBeLessThanOrEqual(4);
  // The relay records the sessions it closed for the newer connection as replaced, in its own words: Bun runs the
  // socket's close handler inside ws.close(), and every close the relay made was logged as transport_closed before.
  expect(relay.count(/^\S+Z info relay: agent disconnected tunnel=alice code=replaced reason="another connection for this tunnel replaced this one"/)).toBeGreaterThanOrEqual(1);
  expect(relay.stderr()).not.toMatch(/agent disconnected tunnel=alice code=transport_closed reason="websocket closed \(\d+: replaced/);

  // The user takes the tunnel back on the displaced machine: the other one (replaced twice within the window) stands down.
  const res = await fetch(`${older.urls.api}/api/v1/tunnel/restart`, { method: "POST", headers: { Authorization: `Bearer ${await apiToken(older)}` } });
  expect(res.status).toBe(200);
  await settled(older, newer);
  expect((await tunnel(older)).lastErrorCode).not.toBe("displaced");
}, 60_000);

test("a displaced agent cancels the generations it held for a resume at once, not at the end of the resume window", async () => {
  // A relay of its own: the agents above still hold the first one's tunnel.
  const relay2 = await startRelayProc(relayToml());
  const slow = await startFakeOllama({ tokens: 600, tokenDelayMs: 100 });
  const stops: (() => Promise<unknown> | void)[] = [() => relay2.stop(), () => slow.stop(), () => cleanup(relay2.dir)];
  try {
    const toml = daemonToml({ upstream: slow.url, relayUrl: `${relay2.url.replace(/^http/, "ws")}/agent`, backoff: ["100ms", "200ms"] });
    const older = await startAgentDaemon(toml);
    stops.unshift(() => cleanup(older.home), () => older.stop());
    // A 60 s generation through the older agent, its first tokens read.
    const res = await fetch(`${relay2.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", headers: { Authorization: `Bearer ${CLIENT_KEY}` }, body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi" }) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    stops.unshift(() => reader.cancel().catch(() => {}));
    const newer = await startAgentDaemon(toml);
    stops.unshift(() => cleanup(newer.home), () => newer.stop());
    await until(async () => (await tunnel(older)).lastErrorCode === "displaced", 10_000, "the older agent to stand down as displaced");
    // Standing down, the older agent gives up what it held: the upstream sees its request cancelled within seconds
    // (the default resume window is 60 s, the generation's own length too).
    const [abort] = await slow.waitForAborts(1, 5_000);
    expect(abort!.path).toBe("/api/generate");
  } finally {
    for (const s of stops) await s();
  }
}, 60_000);

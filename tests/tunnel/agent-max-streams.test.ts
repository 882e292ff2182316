// Integration: an honest relay respects the agent's [tunnel] max_streams, as an HTTP/2 sender respects its peer's
// SETTINGS_MAX_CONCURRENT_STREAMS: twice that many clients at once are all served (the calls past it wait at the relay
// for a stream), none is refused by the agent, and the refused heads never count against the session's flood budget.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { DaemonProc } from "../helpers/daemon.ts";
import type { FakeOllama } from "../helpers/fake-ollama.ts";
import { CLIENT_KEY, TUNNEL_ID, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

const AGENT_MAX = 8;
let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: 5, tokenDelayMs: 20 }, tunnel: `max_streams = ${AGENT_MAX}`, heartbeat: ["10s", "15s"] });
  ({ fake, relay, daemon } = rig);
}, 40_000);
afterAll(async () => {
  await rig?.stop();
});

test("twice the agent's max_streams of concurrent clients through an honest relay are all served: the relay waits for the agent's streams, the agent refuses none", async () => {
  const base = `${relay.url}/t/${TUNNEL_ID}`;
  const headers = { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" };
  const body = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true });
  const outcomes: string[] = [];
  const client = async () => {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${base}/api/chat`, { method: "POST", headers, body });
      const text = await r.text();
      outcomes.push(r.status === 200 ? "200" : `${r.status} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: AGENT_MAX * 2 }, () => client()));
  expect(outcomes.filter((o) => o !== "200")).toEqual([]);
  expect(fake.concurrency.max).toBeLessThanOrEqual(AGENT_MAX);
  expect(daemon.stderr()).not.toMatch(/flood|relay connection failed/);
}, 60_000);


test("clients that retry at once while the agent's streams are all busy never get the tunnel cut: the relay answers them 503 naming the agent's max_streams, and no head reaches the agent past it", async () => {
  fake.options.tokens = 40;
  fake.options.tokenDelayMs = 50;
  const base = `${relay.url}/t/${TUNNEL_ID}`;
  const headers = { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" };
  const body = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true });
  const outcomes = new Map<string, number>();
  const stop = Date.now() + 4_000;
  const client = async () => {
    while (Date.now() < stop) {
      const r = await fetch(`${base}/api/chat`, { method: "POST", headers, body });
      const text = await r.text();
      const k = r.status === 200 ? `200 ${text.trim().split("\n").length}` : `${r.status} ${text}`;
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 64 }, () => client()));
  const busy = `503 {"error":"tunnel \\"alice\\" is busy: its agent takes ${AGENT_MAX} requests at once ([tunnel] max_streams) and all are in flight; retry in a moment"}`;
  // Whole answers (40 tokens and the final line), or the relay's own refusal: never the agent's, never a lost tunnel.
  expect([...outcomes.keys()].filter((k) => k !== "200 41" && k !== busy)).toEqual([]);
  expect(outcomes.get("200 41")).toBeGreaterThan(0);
  expect(fake.concurrency.max).toBeLessThanOrEqual(AGENT_MAX);
  expect(daemon.stderr()).not.toMatch(/flood|relay connection failed/);
  expect(daemon.stderr().match(/connected to the relay/g)?.length).toBe(1);
}, 60_000);

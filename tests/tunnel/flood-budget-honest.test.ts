// Integration: a busy honest tunnel (a real relay and daemon, 16 clients for seconds) never trips the session's budget of
// frames that carry nothing (session.ts, FLOOD_BASE): fence PINGs of resumable answers, window probes, heartbeats,
// DATA and RESETs racing the end of answers cancelled mid-way all come at request rate, which requests give back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { DaemonProc } from "../helpers/daemon.ts";
import type { FakeOllama } from "../helpers/fake-ollama.ts";
import { CLIENT_KEY, TUNNEL_ID, relayToml, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

let rig: TunnelRig;

beforeAll(async () => {
  // Heartbeats 10 s apart (a tick each 7.5 s): the budget is renewed rarely, so what a tick holds is the tunnel's
  // requests' worth of such frames, thousands of them, not a few milliseconds' worth.
  const toml = relayToml({ extra: 'resume_window = "20s"' }).replace('interval = "300ms"\ntolerance = "1200ms"', 'interval = "10s"\ntolerance = "30s"');
  rig = await startTunnelRig({ fake: { tokens: 20, tokenDelayMs: 1 }, relayToml: toml, heartbeat: ["10s", "30s"] });
  ({ fake, relay, daemon } = rig);
}, 40_000);
afterAll(async () => {
  await rig?.stop();
});

test("a busy honest tunnel (16 clients, streamed answers held for resume, answers cancelled mid-way, large bodies) never trips the budget of frames that carry nothing", async () => {
  const base = `${relay.url}/t/${TUNNEL_ID}`;
  const headers = { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" };
  const chat = (content: string) => JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content }], stream: true });
  const big = chat("x".repeat(200_000));
  const outcomes: string[] = [];
  const until = Date.now() + 8_000;
  const client = async (c: number) => {
    for (let i = 0; Date.now() < until; i++) {
      const kind = (i + c) % 5;
      if (kind === 0) {
        const r = await fetch(`${base}/api/tags`, { headers });
        await r.text();
        outcomes.push(`tags ${r.status}`);
      } else if (kind === 4) {
        // Cancelled after its first line: the relay's RESET races the agent's next DATA and its END.
        const ac = new AbortController();
        const r = await fetch(`${base}/api/chat`, { method: "POST", headers, body: chat("hi"), signal: ac.signal });
        const reader = r.body!.getReader();
        await reader.read();
        ac.abort();
        await reader.read().catch(() => {});
        outcomes.push(`cancelled ${r.status}`);
      } else {
        const r = await fetch(`${base}/api/chat`, { method: "POST", headers, body: kind === 3 ? big : chat("hi") });
        const text = await r.text();
        outcomes.push(`chat ${r.status} ${text.trim().split("\n").length}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
  // Thousands of requests in the budget's tick: without what requests give back, their fences and strays would trip it.
  expect(outcomes.length).toBeGreaterThan(1_000);
  // Every answer whole (20 tokens and the final line), every request served: none lost to a dropped connection.
  expect(outcomes.filter((o) => !/^(tags 200|cancelled 200|chat 200 21)$/.test(o))).toEqual([]);
  expect(daemon.stderr()).not.toMatch(/relay connection failed|flood/);
  expect(relay.stderr()).not.toMatch(/flood|agent disconnected/);
  expect(daemon.stderr().match(/connected to the relay/g)?.length).toBe(1);
}, 60_000);

// Integration: clients that abort their calls before the answer begins, hundreds a second, through an honest relay whose
// requests_per_minute allows it. Each is a stream the relay resets before its answer, which the agent counts as a rapid
// reset and past its budget cuts the tunnel for every client; the relay keeps them under it (early-cancels.ts): the
// aborting client is refused (429, rapid reset), the tunnel stays up, and another client is served throughout.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { hashToken } from "../../src/relay/auth.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, relayToml, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

const OTHER_KEY = "other-client-key-for-tests-01234";
let rig: TunnelRig;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  // A whole (stream:false) answer's head comes after its 20 tokens, 1 s: every abort below is before it.
  rig = await startTunnelRig({
    fake: { tokens: 20, tokenDelayMs: 50 },
    relayToml: relayToml().replace(`client_key_sha256 = ["${hashToken(CLIENT_KEY)}"]`, `client_key_sha256 = ["${hashToken(CLIENT_KEY)}", "${hashToken(OTHER_KEY)}"]`),
    // The default heartbeats: the agent's budget a 3.75 s tick, as a daemon has it.
    heartbeat: ["10s", "15s"],
  });
  ({ relay, daemon } = rig);
}, 40_000);
afterAll(async () => {
  await rig?.stop();
});

test("a client aborting its calls within 20 ms, hundreds a second, is refused 429 (rapid reset) by the relay before the agent's budget cuts the tunnel; another client is served throughout", async () => {
  const url = `${relay.url}/t/${TUNNEL_ID}`;
  const chat = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false });
  const refusals = new Set<string>();
  let aborted = 0;
  const stop = Date.now() + 4_000;
  const aborter = async () => {
    while (Date.now() < stop) {
      try {
        const r = await fetch(`${url}/api/chat`, { method: "POST", headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" }, body: chat, signal: AbortSignal.timeout(20) });
        refusals.add(`${r.status} ${await r.text()}`);
      } catch {
        aborted++;
      }
    }
  };
  const others: number[] = [];
  const other = async () => {
    while (Date.now() < stop) {
      const r = await fetch(`${url}/api/tags`, { headers: { Authorization: `Bearer ${OTHER_KEY}` } });
      await r.text();
      others.push(r.status);
    }
  };
  await Promise.all([...Array.from({ length: 32 }, aborter), other()]);
  // Before, the agent cut the tunnel again and again (flood: the relay reset N streams before their answer).
  const log = daemon.stderr();
  expect({ cut: log.match(/relay connection failed/g)?.length ?? 0, connected: log.match(/connected to the relay/g)?.length }).toEqual({ cut: 0, connected: 1 });
  expect(aborted).toBeGreaterThan(128);
  expect([...refusals].filter((r) => !/^429 \{"error":"tunnel \\"alice\\" is shared: this client aborts its calls before their answer faster than the tunnel's agent allows \(rapid reset\); retry in \d+ s"\}$/.test(r))).toEqual([]);
  expect(refusals.size).toBeGreaterThan(0);
  expect(others.length).toBeGreaterThan(0);
  expect(others.filter((s) => s !== 200)).toEqual([]);
}, 60_000);

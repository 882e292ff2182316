// Integration: a relay that floods the agent while reading nothing back (raw-relay.ts) against a real daemon: what its
// frames ask the agent to write (a PONG per PING) must not pile up in the agent's memory; the connection is dropped.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encode } from "../../src/protocol/codec.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { daemonToml, rssMiB, startAgentDaemon } from "./helpers.ts";
import { startRawRelay, wsFrame, type RawRelay } from "./raw-relay.ts";

let fake: FakeOllama;
let daemon: DaemonProc;
let relay: RawRelay;

beforeAll(async () => {
  fake = await startFakeOllama();
  relay = startRawRelay({ pause: true });
  // A heartbeat tolerance far beyond the test: the relay's PINGs keep the connection alive; only its not reading may end it.
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${relay.port}/agent`, heartbeat: ["1s", "120s"] }));
});
afterAll(async () => {
  await daemon?.stop();
  relay?.stop();
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
});

test("a relay that floods PINGs and reads nothing back is dropped (the agent's PONGs do not pile up in its memory); local apps are served meanwhile", async () => {
  await until(() => relay.agent, 5_000, "the agent's connection");
  const before = rssMiB(daemon.proc.pid).rss;
  const ping = wsFrame(encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }));
  const burst = new Uint8Array(ping.length * 4096);
  for (let i = 0; i < 4096; i++) burst.set(ping, i * ping.length);
  const flood = relay.flood(burst);
  try {
    // Before, the agent answered every PING into a socket nobody read: its memory grew with the flood (380 MiB in 5 s),
    // and the connection stayed up for as long as the relay kept flooding.
    const line = await daemon.waitFor(/relay connection failed; retrying .*heartbeat_timeout: the relay stopped reading: \d+ bytes sent to it are unread/, 30_000);
    expect(line).toMatch(/code=heartbeat_timeout/);
    // A machine's local apps are answered by the broker while the relay floods (the reconnected agent is flooded again).
    const local = await fetch(`${daemon.urls.broker}/api/tags`);
    expect(local.status).toBe(200);
    await local.text();
    // The agent holds at most UNREAD_CAP (4 MiB) of PONGs per connection; the rest is the runtime's garbage of the flood.
    expect(rssMiB(daemon.proc.pid).hwm - before).toBeLessThan(150);
  } finally {
    flood.stop();
  }
  expect(daemon.proc.exitCode).toBeNull();
  expect(daemon.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled/i);
}, 60_000);

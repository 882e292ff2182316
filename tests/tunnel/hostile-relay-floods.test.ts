// Integration: a relay that floods the agent (raw-relay.ts) against a real daemon. Reading nothing back: what its frames
// ask the agent to write (a PONG per PING) must not pile up in the agent's memory. Reading: frames that carry nothing
// past the session's budget end the connection (protocol_error: flood), and the agent reconnects with its backoff.
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
    // Whichever comes first: 4 MiB of PONGs unread, or more PINGs than the budget of frames that carry nothing.
    const line = await daemon.waitFor(/relay connection failed; retrying .*(heartbeat_timeout: the relay stopped reading: \d+ bytes sent to it are unread|protocol_error: flood: the relay sent more than \d+ frames that carry nothing)/, 30_000);
    expect(line).toMatch(/code=(heartbeat_timeout|protocol_error)/);
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

test("a relay that floods PINGs and frames for streams that do not exist, reading what the agent sends, is dropped (protocol_error: flood); the agent reconnects with a growing backoff, and local apps are served", async () => {
  const reading = startRawRelay({ pause: false });
  // A backoff that visibly grows (200 ms, 400 ms, 800 ms ...); a tolerance far beyond the test, so only the flood ends it.
  const d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${reading.port}/agent`, heartbeat: ["1s", "120s"], backoff: ["200ms", "10s"] }));
  try {
    await until(() => reading.agent, 5_000, "the agent's connection");
    const ping = wsFrame(encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }));
    const stray = wsFrame(encode({ type: "DATA", stream: 99, data: new Uint8Array(8) }));
    const burst = new Uint8Array((ping.length + stray.length) * 2048);
    for (let i = 0; i < 2048; i++) burst.set(ping, i * (ping.length + stray.length)), burst.set(stray, i * (ping.length + stray.length) + ping.length);
    const flood = reading.flood(burst);
    try {
      // Before, the agent answered every PING and dropped every stray DATA, and the connection stayed up for as long
      // as the relay flooded (a local /api/tags took 1.5 s at the median meanwhile).
      const failed = /relay connection failed; retrying .*protocol_error: flood: the relay sent more than \d+ frames that carry nothing/;
      await until(() => (d.stderr().match(new RegExp(failed.source, "g"))?.length ?? 0) >= 3 || null, 30_000, "three connections dropped for the flood");
      // Each reconnection is flooded again and dropped again: the backoff is not reset, it grows.
      const lines = d.stderr().split("\n").filter((l) => failed.test(l));
      const attempts = lines.map((l) => Number(/attempt=(\d+)/.exec(l)?.[1]));
      const delays = lines.map((l) => Number(/retry_in_ms=(\d+)/.exec(l)?.[1]));
      expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
      expect(delays[1]!).toBeGreaterThan(delays[0]!);
      expect(delays[2]!).toBeGreaterThan(delays[1]!);
      expect(reading.hellos).toBeGreaterThanOrEqual(3);
      // The broker answers this machine's apps while the relay floods.
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${d.urls.broker}/api/tags`);
        expect(res.status).toBe(200);
        await res.text();
      }
    } finally {
      flood.stop();
    }
    expect(d.proc.exitCode).toBeNull();
    expect(d.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled/i);
  } finally {
    await d.stop();
    reading.stop();
    removeHome(d.home);
  }
}, 60_000);

// Integration: a relay that opens streams and resets them before their answer (HTTP/2's rapid reset, CVE-2023-44487)
// against a real daemon. Each head is a stream, a request started in the broker (and, given a turn, at the upstream:
// the GPU's work, abandoned) and a log line, and its reset frees the stream at once, so max_streams never bounded them;
// each head gave the flood budget 16 back. Now a stream reset before its answer costs the budget what a head gives back
// and as much again: the agent cuts the connection (protocol_error: flood, naming the rapid reset), reconnects with a
// growing backoff, and serves the machine's local apps meanwhile.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { encode } from "../../src/protocol/codec.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { daemonToml, startAgentDaemon } from "./helpers.ts";
import { startRawRelay, wsFrame, type RawRelay } from "./raw-relay.ts";

let fake: FakeOllama;

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: 200, tokenDelayMs: 20 });
});
afterAll(async () => {
  await fake?.stop();
});

const body = new TextEncoder().encode(JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: true }));
const headers: [string, string][] = [
  ["content-type", "application/json"],
  ["content-length", String(body.length)],
];
const request = (id: number) => [
  wsFrame(encode({ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/chat", headers } })),
  wsFrame(encode({ type: "DATA", stream: id, data: body })),
  wsFrame(encode({ type: "END", stream: id })),
];
const reset = (id: number) => wsFrame(encode({ type: "RESET", stream: id, body: { code: "cancel", reason: "gone" } }));

/** Writes all of `bytes` to `s` while it is the relay's latest connection (a cut one is left). */
async function writeAll(relay: RawRelay, s: Socket<unknown>, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    if (s !== relay.agent) return;
    const w = s.write(bytes.subarray(off));
    if (w < 0) return;
    off += w;
    if (off < bytes.length) await Bun.sleep(1);
  }
}

/**
 * Opens 32 streams at a time and resets them, `gapMs` later (0: in the same write), on whichever connection the agent
 * holds, until stop(); what it sends is a chat request whole (head, body, END), so the broker takes each one.
 */
function rapidReset(relay: RawRelay, gapMs: number): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    for (let id = 1; !stopped; ) {
      const s = relay.agent as Socket<unknown> | null;
      if (!s) {
        await Bun.sleep(5);
        continue;
      }
      const ids = Array.from({ length: 32 }, (_, k) => id + 2 * k);
      id += 64;
      const heads = ids.flatMap(request);
      if (gapMs) {
        await writeAll(relay, s, Buffer.concat(heads));
        await Bun.sleep(gapMs);
        await writeAll(relay, s, Buffer.concat(ids.map(reset)));
      } else await writeAll(relay, s, Buffer.concat(ids.flatMap((i) => [...request(i), reset(i)])));
      await Bun.sleep(1);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

async function floodCut(gapMs: number): Promise<void> {
  const relay = startRawRelay({ pause: false });
  // Heartbeats 10 s apart (the budget renewed each 10 s): a loaded machine's slower flood is cut as surely. A backoff
  // that visibly grows, and a tolerance far beyond the test: only the flood ends a connection.
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${relay.port}/agent`, heartbeat: ["10s", "120s"], backoff: ["200ms", "10s"] }));
  let daemonStopped = false;
  try {
    await until(() => relay.agent, 5_000, "the agent's connection");
    const flood = rapidReset(relay, gapMs);
    try {
      // Before, the connection stayed up for as long as the relay kept at it (a local /api/tags took 2 s at the median
      // with the resets 3 ms behind their heads, 9 s with each in its head's write; thousands of upstream requests
      // started and abandoned).
      const failed = /relay connection failed; retrying .*protocol_error: flood: the relay reset \d+ streams before their answer \(rapid reset, 32 each\)/;
      await until(() => (daemon.stderr().match(new RegExp(failed.source, "g"))?.length ?? 0) >= 3 || null, 30_000, "three connections dropped for the rapid reset");
      const lines = daemon.stderr().split("\n").filter((l) => failed.test(l));
      const delays = lines.map((l) => Number(/retry_in_ms=(\d+)/.exec(l)?.[1]));
      // Each new connection is cut again: the backoff is not reset, it grows.
      expect(delays[1]!).toBeGreaterThan(delays[0]!);
      expect(delays[2]!).toBeGreaterThan(delays[1]!);
      // The broker answers this machine's apps meanwhile.
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${daemon.urls.broker}/api/tags`);
        expect(res.status).toBe(200);
        await res.text();
      }
    } finally {
      await flood.stop();
    }
    expect(daemon.proc.exitCode).toBeNull();
    expect(daemon.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled/i);
    await daemon.stop();
    daemonStopped = true;
  } finally {
    if (!daemonStopped) await daemon.stop();
    relay.stop();
    removeHome(daemon.home);
  }
}

test("a relay that opens chat streams and resets them 3 ms later (the broker has taken them, some reached the upstream) is cut for the rapid reset; the agent reconnects with a growing backoff, and local apps are served", () => floodCut(3), 60_000);

test("a relay that resets each stream in the same write as its head is cut the same way", () => floodCut(0), 60_000);

// The relay's log line for an agent whose session ends with a protocol error says what the agent did, by its code:
// a flood of frames that carry nothing is logged as such, not as "a malformed frame".
import { expect, test } from "bun:test";
import { AGENT_TOKEN, cleanup, relayToml, startRelayProc } from "./helpers.ts";
import { encode } from "../../src/protocol/codec.ts";
import { CAPABILITIES, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { FLOOD_BASE, FLOOD_PER_SECOND } from "../../src/protocol/session.ts";

test("an agent flooding the relay with PINGs is logged as a flood of frames that carry nothing, not as a malformed frame", async () => {
  const relay = await startRelayProc(relayToml());
  try {
    const ws = new WebSocket(`${relay.url.replace(/^http/, "ws")}/agent`, { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const closed = new Promise<number>((res) => (ws.onclose = (e) => res(e.code)));
    await new Promise((r) => (ws.onopen = r));
    ws.send(encode({ type: "HELLO", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, agent: "flood" } }) as Uint8Array<ArrayBuffer>);
    const ping = encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }) as Uint8Array<ArrayBuffer>;
    // More than a whole heartbeat tick's budget (the relay's ticks here are well under a second).
    for (let i = 0; i < 4 * (FLOOD_BASE + FLOOD_PER_SECOND) && ws.readyState === WebSocket.OPEN; i++) ws.send(ping);
    expect(await closed).toBe(1002);
    const line = await relay.waitFor(/code=flood/, 10_000);
    expect(line).toContain("agent sent more frames that carry nothing");
    expect(line).not.toContain("malformed");
  } finally {
    await relay.stop();
    cleanup(relay.dir);
  }
}, 30_000);

test("an agent connecting again and again to send garbage (a text frame, a bad HELLO) gets a line per kind per 10 s, not one per connection; the metrics count each", async () => {
  const relay = await startRelayProc(relayToml());
  try {
    const url = `${relay.url.replace(/^http/, "ws")}/agent`;
    const garbage = (i: number) =>
      new Promise<void>((done) => {
        const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } as unknown as string[]);
        ws.binaryType = "arraybuffer";
        ws.onopen = () => (i % 2 ? ws.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])) : ws.send("not binary"));
        ws.onclose = () => done();
        ws.onerror = () => done();
      });
    for (let i = 0; i < 1000; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => garbage(i + j)));
    const counted = async () => {
      const text = await (await fetch(`${relay.url}/metrics`)).text();
      return text.split("\n").filter((l) => l.startsWith("cloudtolocalllm_relay_protocol_errors_total{")).reduce((n, l) => n + Number(l.split(" ").pop()), 0);
    };
    expect(await counted()).toBe(1000);
    const lines = relay.count(/agent sent a text frame|agent sent a bad handshake/);
    // One per kind, a few more only if the flood outlasted the 10 s window on a loaded machine; on the old code, 1,000.
    expect(lines).toBeGreaterThanOrEqual(2);
    expect(lines).toBeLessThan(12);
  } finally {
    await relay.stop();
    cleanup(relay.dir);
  }
}, 60_000);

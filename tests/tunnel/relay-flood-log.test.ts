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

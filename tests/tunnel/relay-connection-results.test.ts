// docs/relay.md's metrics: what a failed handshake counts in agent_connections_total{result} and what a protocol error in a live session counts only in protocol_errors_total{code}, against a real relay process.
import { expect, test } from "bun:test";
import { AGENT_TOKEN, cleanup, relayToml, startRelayProc } from "./helpers.ts";
import { encode } from "../../src/protocol/codec.ts";
import { HEADER_SIZE, MAX_PAYLOAD, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { until } from "../helpers/until.ts";

/** One agent connection: sends what `first` says once open, the rest after the relay's WELCOME, and reports its close code. */
function agent(url: string, first: string | Uint8Array, after?: string | Uint8Array): Promise<number> {
  return new Promise((done) => {
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(first as never);
    ws.onmessage = () => after !== undefined && ws.send(after as never);
    ws.onclose = (e) => done(e.code);
  });
}

test("a text frame or an over-limit message in place of HELLO is a failed handshake (agent_connections_total{result=\"protocol_error\"}); one in a live session is counted in protocol_errors_total{code} only", async () => {
  const relay = await startRelayProc(relayToml());
  try {
    const url = `${relay.url.replace(/^http/, "ws")}/agent`;
    const hello = encode({ type: "HELLO", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: [], agent: "raw" } }) as Uint8Array;
    const tooBig = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD + 1);
    // Before HELLO: two failed handshakes.
    expect(await agent(url, "not binary")).toBe(1002);
    expect(await agent(url, tooBig)).toBe(1009);
    // After WELCOME: two sessions accepted, then ended by a protocol error each.
    expect(await agent(url, hello, "not binary")).toBe(1002);
    expect(await agent(url, hello, tooBig)).toBe(1009);
    const read = async () => {
      const text = await (await fetch(`${relay.url}/metrics`)).text();
      const n = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
      return {
        handshakeErrors: n(/^cloudtolocalllm_relay_agent_connections_total\{result="protocol_error"\} (\d+)$/m),
        ok: n(/^cloudtolocalllm_relay_agent_connections_total\{result="ok"\} (\d+)$/m),
        notBinary: n(/^cloudtolocalllm_relay_protocol_errors_total\{code="not_binary"\} (\d+)$/m),
        tooBig: n(/^cloudtolocalllm_relay_protocol_errors_total\{code="message_too_big"\} (\d+)$/m),
      };
    };
    // The relay counts a cut message in its close handler: wait for all four protocol errors to be in.
    await until(async () => { const m = await read(); return m.notBinary + m.tooBig === 4; }, 10_000, "four protocol errors counted");
    expect(await read()).toEqual({ handshakeErrors: 2, ok: 2, notBinary: 2, tooBig: 2 });
  } finally {
    await relay.stop();
    cleanup(relay.dir);
  }
}, 30_000);

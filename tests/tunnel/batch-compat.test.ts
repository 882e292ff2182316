// BATCH messages between real peers, and both directions of compatibility with the previous release (no "batch" capability).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { decodeMessage, encode, encodeBatch } from "../../src/protocol/codec.ts";
import { CAPABILITIES, PROTOCOL_VERSION, type Frame, type Message } from "../../src/protocol/messages.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { connect } from "../../src/tunnel/connector.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, relayToml, startRelayProc, type RelayProc } from "./helpers.ts";

const BATCH = 0x30;
/** What the previous release offered in HELLO and WELCOME. */
const PREVIOUS_CAPABILITIES = ["streaming", "flow-control", "cancel", "go-away"];
const framesOf = (m: Message): Frame[] => (m.type === "BATCH" ? m.frames : [m]);

/**
 * An agent written against the wire: HELLO with the given capabilities; answers every request with "echo:<body>",
 * as one BATCH or frame by frame, and with `lateEndMs` its END only that much later.
 */
async function rawAgent(relayUrl: string, capabilities: string[], answerBatched: boolean, lateEndMs = 0) {
  const received: Uint8Array[] = [];
  const ws = new WebSocket(`${relayUrl.replace(/^http/, "ws")}/agent`, { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  let welcomeCaps: string[] = [];
  const welcomed = new Promise<void>((resolve, reject) => {
    ws.onerror = () => reject(new Error("the raw agent's socket failed"));
    const bodies = new Map<number, string>();
    ws.onmessage = (e) => {
      const bytes = new Uint8Array(e.data as ArrayBuffer);
      const m = decodeMessage(bytes);
      if (m.type === "WELCOME") {
        welcomeCaps = m.body.capabilities;
        return resolve();
      }
      received.push(bytes);
      for (const f of framesOf(m)) {
        if (f.type === "REQUEST_HEAD") bodies.set(f.stream, "");
        if (f.type === "DATA") bodies.set(f.stream, (bodies.get(f.stream) ?? "") + new TextDecoder().decode(f.data));
        if (f.type === "END" && bodies.has(f.stream)) {
          const out = [
            encode({ type: "RESPONSE_HEAD", stream: f.stream, body: { status: 200, headers: [["content-type", "text/plain"]] } }),
            encode({ type: "DATA", stream: f.stream, data: new TextEncoder().encode(`echo:${bodies.get(f.stream)}`) }),
            encode({ type: "END", stream: f.stream }),
          ];
          bodies.delete(f.stream);
          const end = lateEndMs ? out.pop()! : null;
          if (answerBatched) ws.send(encodeBatch(out) as Uint8Array<ArrayBuffer>);
          else for (const o of out) ws.send(o as Uint8Array<ArrayBuffer>);
          if (end) setTimeout(() => ws.send(end as Uint8Array<ArrayBuffer>), lateEndMs);
        }
      }
    };
  });
  await new Promise((r) => (ws.onopen = r));
  ws.send(encode({ type: "HELLO", stream: 0, body: { version: PROTOCOL_VERSION, capabilities, agent: "raw/1" } }) as Uint8Array<ArrayBuffer>);
  await welcomed;
  return { received, welcomeCaps: () => welcomeCaps, close: () => ws.close() };
}

const call = (relay: RelayProc, body: string) =>
  fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body, headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" } });

/** One relay process for the tests that need one. */
let relay: RelayProc;
beforeAll(async () => {
  relay = await startRelayProc(relayToml());
});
afterAll(async () => {
  await relay?.stop();
  cleanup(relay?.dir);
});

describe("the relay with agents old and new", () => {
  test("an agent of the previous release (no batch capability) is served one frame per message, never a BATCH", async () => {
    const agent = await rawAgent(relay.url, PREVIOUS_CAPABILITIES, false);
    try {
      for (let i = 0; i < 5; i++) {
        const r = await call(relay, `{"n":${i}}`);
        expect(r.status).toBe(200);
        expect(await r.text()).toBe(`echo:{"n":${i}}`);
      }
      expect(agent.received.length).toBeGreaterThanOrEqual(15);
      expect(agent.received.filter((m) => m[0] === BATCH)).toEqual([]);
      // The relay still says what it reads; the old agent ignores capabilities it does not know.
      expect(agent.welcomeCaps()).toContain("batch");
    } finally {
      agent.close();
    }
  });

  test("a current agent gets a small request as one BATCH, and its batched answer reaches the client", async () => {
    await Bun.sleep(200);
    const agent = await rawAgent(relay.url, CAPABILITIES, true);
    try {
      const r = await call(relay, '{"model":"m"}');
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('echo:{"model":"m"}');
      const batches = agent.received.filter((m) => m[0] === BATCH);
      expect(batches.length).toBeGreaterThanOrEqual(1);
      // Less the relay's probe PINGs (its windows measure the link: docs/protocol.md, Scheduling).
      const frames = agent.received.flatMap((m) => framesOf(decodeMessage(m)).map((f) => f.type)).filter((t) => t !== "PING");
      expect(frames).toEqual(["REQUEST_HEAD", "DATA", "END"]);
    } finally {
      agent.close();
    }
  });
});

describe("how the relay frames an answer for its client", () => {
  for (const [name, lateEndMs, sized] of [
    ["an answer complete on arrival goes out sized (Content-Length, one write)", 0, true],
    ["an answer whose END is still to come streams (chunked)", 100, false],
  ] as const) {
    test(name, async () => {
      const agent = await rawAgent(relay.url, CAPABILITIES, true, lateEndMs);
      try {
        const r = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}/api/generate`, { headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: "hello" });
        expect(r.status).toBe(200);
        expect(r.body).toBe("echo:hello");
        expect(r.headers["content-length"]).toBe(sized ? "10" : undefined);
        expect(r.headers["transfer-encoding"]).toBe(sized ? undefined : "chunked");
      } finally {
        agent.close();
        await Bun.sleep(100);
      }
    });
  }
});

describe("the agent with relays old and new", () => {
  /** A relay written against the wire: WELCOME with the given capabilities, then one request; collects the agent's answer. */
  async function rawRelay(capabilities: string[]) {
    const fromAgent: Uint8Array[] = [];
    let done!: () => void;
    const answered = new Promise<void>((r) => (done = r));
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
      websocket: {
        message(ws: ServerWebSocket<unknown>, msg) {
          const bytes = msg as Uint8Array;
          const m = decodeMessage(bytes);
          if (m.type === "HELLO") {
            ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities, tunnelId: TUNNEL_ID } }));
            ws.send(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/api/tags", headers: [] } }));
            ws.send(encode({ type: "END", stream: 1 }));
            return;
          }
          fromAgent.push(new Uint8Array(bytes));
          if (framesOf(m).some((f) => f.type === "END")) done();
        },
      },
    });
    return { url: `ws://127.0.0.1:${server.port}/agent`, fromAgent, answered, stop: () => server.stop(true) };
  }

  for (const [name, caps, batched] of [
    ["a relay of the previous release (no batch in WELCOME) gets one frame per message", PREVIOUS_CAPABILITIES, false],
    ["a current relay gets the answer's head, body and end in one BATCH", CAPABILITIES, true],
  ] as const) {
    test(name, async () => {
      const relay = await rawRelay([...caps]);
      const conn = await connect({
        url: relay.url,
        token: AGENT_TOKEN,
        agent: "cloudtolocalllm-tunnel/test",
        heartbeatMs: 10_000,
        toleranceMs: 30_000,
        maxStreams: 8,
        onStream: (s) => void serveStream(s, async () => Response.json({ models: [] })),
      });
      try {
        await relay.answered;
        const types = relay.fromAgent.flatMap((b) => framesOf(decodeMessage(b)).map((f) => f.type));
        expect(types).toEqual(["RESPONSE_HEAD", "DATA", "END"]);
        expect(relay.fromAgent.some((b) => b[0] === BATCH)).toBe(batched);
        if (batched) expect(relay.fromAgent.length).toBe(1);
        else expect(relay.fromAgent.length).toBe(3);
      } finally {
        conn.close("test over");
        relay.stop();
      }
    });
  }
});

// docs/protocol.md's promises about the relay's side of the wire, tested against a real relay process by a hand-written agent speaking raw WebSocket frames: message size, version skew, a silent handshake, a text message, credit overrun, and that each ends one connection, never the relay or another tunnel.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AGENT_TOKEN, CLIENT_KEY, cleanup, relayToml, startRelayProc, TUNNEL_ID, type RelayProc } from "./helpers.ts";
import { decodeMessage, encode } from "../../src/protocol/codec.ts";
import { DATA_CHUNK, HEADER_SIZE, INITIAL_WINDOW, MAX_PAYLOAD, PROTOCOL_VERSION, type Frame } from "../../src/protocol/messages.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";

const BOB_TOKEN = "bob-agent-token-for-tests-0123456789";
let relay: RelayProc;
/** The relay the first describe shares (`relay` points elsewhere while a test runs its own). */
let shared: RelayProc;
let bob: Connection;
let bobClosed: string | null = null;

beforeAll(async () => {
  relay = await startRelayProc(
    relayToml({ extra: 'handshake_timeout = "700ms"' }) + `\n[[tunnels]]\nid = "bob"\nagent_token_sha256 = "${hashToken(BOB_TOKEN)}"\nclient_key_sha256 = ["${hashToken(CLIENT_KEY)}"]\n`,
  );
  shared = relay;
  // Another tunnel's agent, connected throughout: what one connection does must never reach it.
  bob = await connect({
    url: `${relay.url.replace(/^http/, "ws")}/agent`,
    token: BOB_TOKEN,
    agent: "bob",
    heartbeatMs: 300,
    toleranceMs: 5_000,
    maxStreams: 8,
    onStream: (s) => void serveStream(s, async () => Response.json({ agent: "bob" })),
  });
  bob.closed.then((info) => (bobClosed = `${info.code}: ${info.reason}`));
});
afterAll(async () => {
  bob?.close("test over");
  await relay?.stop();
  if (relay) cleanup(relay.dir);
});

/** A raw agent: its frames as they come, and how its connection ended. */
async function rawAgent() {
  const ws = new WebSocket(`${relay.url.replace(/^http/, "ws")}/agent`, { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  ws.onmessage = (e) => {
    const m = decodeMessage(new Uint8Array(e.data as ArrayBuffer));
    for (const f of m.type === "BATCH" ? (m as unknown as { frames: Frame[] }).frames : [m as Frame]) {
      // Heartbeats are answered, as any agent does; everything else is the test's to read.
      if (f.type === "PING") ws.send(encode({ type: "PONG", stream: 0, opaque: f.opaque }) as never);
      else frames.push(f);
    }
    for (const w of waiters.splice(0)) w();
  };
  const closed = new Promise<{ code: number; reason: string }>((res) => (ws.onclose = (e) => res({ code: e.code, reason: e.reason })));
  await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
  const next = async (...types: Frame["type"][]): Promise<Frame> => {
    for (;;) {
      const i = frames.findIndex((f) => types.includes(f.type));
      if (i >= 0) return frames.splice(i, 1)[0]!;
      const more = new Promise<void>((r) => waiters.push(r));
      const end = await Promise.race([more.then(() => null), closed]);
      if (end) throw new Error(`closed ${end.code} ${end.reason} before ${types.join(" or ")}`);
    }
  };
  const send = (f: Frame | Uint8Array | string) => ws.send(typeof f === "string" || f instanceof Uint8Array ? (f as never) : (encode(f) as never));
  const hello = async (version = PROTOCOL_VERSION, capabilities: string[] = []) => {
    send({ type: "HELLO", stream: 0, body: { version, capabilities, agent: "raw" } });
    return next(version === PROTOCOL_VERSION ? "WELCOME" : "GO_AWAY");
  };
  return { ws, send, next, hello, closed };
}

/** The relay, and the other tunnel, live on. */
async function othersUnharmed() {
  expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  const r = await fetch(`${relay.url}/t/bob/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  expect(await r.json()).toEqual({ agent: "bob" });
  expect(bobClosed).toBeNull();
  expect(relay.proc.exitCode).toBeNull();
}

describe("the relay's side of the wire (docs/protocol.md)", () => {
  test("a message of 1 MiB + 6 passes the relay's WebSocket layer; one byte more is cut there with close 1009, counted and logged, and only that connection ends", async () => {
    const a = await rawAgent();
    await a.hello();
    // Exactly the largest frame: DATA for a stream that is not open carries nothing, and the session stays.
    a.send(encode({ type: "DATA", stream: 1, data: new Uint8Array(MAX_PAYLOAD) }));
    a.send({ type: "PING", stream: 0, opaque: new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]) });
    expect(await a.next("PONG")).toMatchObject({ type: "PONG" });
    const over = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD + 1);
    over.set(encode({ type: "DATA", stream: 1, data: new Uint8Array(0) }).subarray(0, HEADER_SIZE));
    a.send(over);
    expect((await a.closed).code).toBe(1009);
    // Bun cuts it before the relay's code sees it: still counted and logged like the protocol's own errors.
    await relay.waitFor(/agent sent a WebSocket message over the frame limit; closing its connection.*limit=1048582/);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/^cloudtolocalllm_relay_protocol_errors_total\{code="message_too_big"\} 1$/m);
    await othersUnharmed();
  }, 30_000);

  test("an agent of another version gets GO_AWAY incompatible_version with the doc's sentence, then close 4002", async () => {
    const a = await rawAgent();
    const away = await a.hello(PROTOCOL_VERSION + 1);
    expect(away).toEqual({
      type: "GO_AWAY",
      stream: 0,
      body: { code: "incompatible_version", reason: `the relay speaks tunnel protocol ${PROTOCOL_VERSION} but the agent sent version ${PROTOCOL_VERSION + 1}; upgrade the older side` },
    });
    const end = await a.closed;
    expect(end.code).toBe(4002);
    expect(end.reason).toStartWith("incompatible_version: the relay speaks tunnel protocol");
    await othersUnharmed();
  }, 30_000);

  test("an agent that sends no HELLO within handshake_timeout is closed with 1008 handshake_timeout", async () => {
    const a = await rawAgent();
    expect(await a.closed).toEqual({ code: 1008, reason: "handshake_timeout: no HELLO in time" });
    await othersUnharmed();
  }, 30_000);

  test("a text message in a live session closes that one connection with 1002 protocol_error: not_binary", async () => {
    const a = await rawAgent();
    await a.hello();
    a.send("hello, relay");
    const end = await a.closed;
    expect(end.code).toBe(1002);
    expect(end.reason).toStartWith("protocol_error: not_binary");
    await othersUnharmed();
  }, 30_000);

  test("an agent that sends more DATA than its credit ends its session with a flow_control protocol error; the client gets the answer's error line", async () => {
    const a = await rawAgent();
    await a.hello();
    const call = fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body: "{}", headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    const head = await a.next("REQUEST_HEAD");
    a.send({ type: "RESPONSE_HEAD", stream: head.stream, body: { status: 200, headers: [["content-type", "application/x-ndjson"]] } });
    // One frame, one byte past the stream's whole window: no WINDOW_UPDATE can race it.
    a.send({ type: "DATA", stream: head.stream, data: new Uint8Array(INITIAL_WINDOW + 1).fill(0x20) });
    const end = await a.closed;
    expect(end.code).toBe(1002);
    expect(end.reason).toStartWith("protocol_error: flow_control");
    const r = await call;
    expect(r.status).toBe(200);
    expect((await r.text()).trimEnd().split("\n").pop()).toMatch(/^\{"error":"/);
    await othersUnharmed();
  }, 30_000);

  test("a second agent with the same token replaces the first: a call still waiting for its head is 503 tunnel_moving, an answer under way ends with its error line (no resume), and the new agent serves the next call", async () => {
    const first = await rawAgent();
    await first.hello();
    const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
    const answering = fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body: "{}", headers: auth });
    const h1 = await first.next("REQUEST_HEAD");
    first.send({ type: "RESPONSE_HEAD", stream: h1.stream, body: { status: 200, headers: [["content-type", "application/x-ndjson"]] } });
    first.send({ type: "DATA", stream: h1.stream, data: new TextEncoder().encode('{"response":"a"}\n') });
    const answered = await answering;
    expect(answered.status).toBe(200);
    const waiting = fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth });
    await first.next("REQUEST_HEAD");
    const second = await rawAgent();
    await second.hello();
    expect((await first.closed).code).toBe(4001);
    const w = await waiting;
    expect([w.status, w.headers.get("x-c2l-error-code"), w.headers.get("retry-after")]).toEqual([503, "tunnel_moving", "1"]);
    const lines = (await answered.text()).trimEnd().split("\n");
    expect(lines[0]).toBe('{"response":"a"}');
    expect(lines.at(-1)).toMatch(/^\{"error":"/);
    // The new connection takes the next call.
    const next = fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth });
    const h = await second.next("REQUEST_HEAD");
    second.send({ type: "RESPONSE_HEAD", stream: h.stream, body: { status: 200, headers: [] } });
    second.send({ type: "END", stream: h.stream });
    expect((await next).status).toBe(200);
    second.ws.close();
    await othersUnharmed();
  }, 30_000);

  test("with resume, an answer under way on a replaced connection waits for the new one: its RESUME is taken over (RESUMED) and the client gets every byte once", async () => {
    const TOKEN = "q2Vv8k3xR0a9bL1cD4eF5g";
    const first = await rawAgent();
    await first.hello(PROTOCOL_VERSION, ["resume"]);
    const answering = fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body: "{}", headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    const h1 = await first.next("REQUEST_HEAD");
    first.send({ type: "RESPONSE_HEAD", stream: h1.stream, body: { status: 200, headers: [["content-type", "application/x-ndjson"]], resume: TOKEN } });
    first.send({ type: "DATA", stream: h1.stream, data: new TextEncoder().encode('{"response":"a"}\n') });
    const answered = await answering;
    const reader = answered.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('{"response":"a"}\n');
    const second = await rawAgent();
    await second.hello(PROTOCOL_VERSION, ["resume"]);
    expect((await first.closed).code).toBe(4001);
    second.send({ type: "RESUME", stream: 0, body: { token: TOKEN, sent: 17 } });
    const resumed = await second.next("RESUMED");
    expect(resumed).toMatchObject({ body: { token: TOKEN, offset: 17 } });
    second.send({ type: "DATA", stream: resumed.stream, data: new TextEncoder().encode('{"response":"b","done":true}\n') });
    second.send({ type: "END", stream: resumed.stream });
    let rest = "";
    for (let r; !(r = await reader.read()).done; ) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe('{"response":"b","done":true}\n');
    second.ws.close();
    await othersUnharmed();
  }, 30_000);

  test("a HELLO whose maxStreams is out of range is a bad HELLO (1002, bad_payload); a refused token is a 401 on the upgrade; the relay counts every kind of agent connection by its result", async () => {
    const a = await rawAgent();
    a.send(encode({ type: "HELLO", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: [], agent: "raw", maxStreams: 0 } }));
    const end = await a.closed;
    expect(end.code).toBe(1002);
    expect(end.reason).toStartWith("protocol_error: bad_payload");
    const refused = await fetch(`${relay.url}/agent`, { headers: { Authorization: "Bearer not-a-token", Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
    // The other kinds, here too, so that this test alone counts them all.
    const ok = await rawAgent();
    await ok.hello();
    ok.ws.close();
    const old = await rawAgent();
    await old.hello(PROTOCOL_VERSION + 1);
    await old.closed;
    await (await rawAgent()).closed;
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    for (const result of ["ok", "unauthorized", "incompatible_version", "protocol_error", "handshake_timeout"])
      expect([result, new RegExp(`^cloudtolocalllm_relay_agent_connections_total\\{result="${result}"\\} [1-9]`, "m").test(metrics)]).toEqual([result, true]);
    await othersUnharmed();
  }, 30_000);

  test("the relay opens streams on odd ids counting up (1, 3, 5) and cuts a request body into DATA of at most 64 KiB", async () => {
    const a = await rawAgent();
    await a.hello();
    const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
    const body = new Uint8Array(300_000).fill(0x61);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const call = fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body, headers: auth });
      const head = await a.next("REQUEST_HEAD");
      ids.push(head.stream);
      let got = 0;
      for (;;) {
        const f = await a.next("DATA", "END");
        if (f.type === "END") break;
        if (f.type !== "DATA") continue;
        expect(f.stream).toBe(head.stream);
        expect(f.data.length).toBeLessThanOrEqual(DATA_CHUNK);
        got += f.data.length;
      }
      expect(got).toBe(body.length);
      a.send({ type: "RESPONSE_HEAD", stream: head.stream, body: { status: 200, headers: [] } });
      a.send({ type: "END", stream: head.stream });
      expect((await call).status).toBe(200);
    }
    expect(ids).toEqual([1, 3, 5]);
    a.ws.close();
    await othersUnharmed();
  }, 30_000);

  test("an agent that sends GO_AWAY normal (its daemon stopping) is sent no new stream: a call meanwhile is 503 unavailable and never reaches it", async () => {
    const a = await rawAgent();
    await a.hello();
    a.send({ type: "GO_AWAY", stream: 0, body: { code: "normal", reason: "the daemon is stopping" } });
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    // docs/relay.md's table: 503 unavailable when "the daemon [is] going away".
    expect([r.status, r.headers.get("x-c2l-error-code")]).toEqual([503, "unavailable"]);
    await r.body?.cancel();
    // And no stream was opened on the connection going away.
    a.send({ type: "PING", stream: 0, opaque: new Uint8Array(8) });
    await a.next("PONG");
    expect(await Promise.race([a.next("REQUEST_HEAD").then(() => "a stream", () => "closed"), Bun.sleep(50).then(() => "none")])).toBe("none");
    a.ws.close();
    await othersUnharmed();
  }, 30_000);
});

describe("a relay going away (docs/protocol.md, Going away)", () => {
  test("on SIGTERM the relay sends GO_AWAY normal, keeps the connection while a stream is in flight, and closes it (1000) once the last stream ended, long before go_away_grace", async () => {
    const own = await startRelayProc(relayToml({ extra: 'go_away_grace = "60s"' }));
    try {
      relay = own; // rawAgent() dials `relay`
      const a = await rawAgent();
      await a.hello();
      const call = fetch(`${own.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body: "{}", headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
      const head = await a.next("REQUEST_HEAD");
      a.send({ type: "RESPONSE_HEAD", stream: head.stream, body: { status: 200, headers: [] } });
      a.send({ type: "DATA", stream: head.stream, data: new TextEncoder().encode("part one, ") });
      const r = await call;
      own.proc.kill("SIGTERM");
      expect(await a.next("GO_AWAY")).toMatchObject({ body: { code: "normal" } });
      // Still open: the stream in flight goes on.
      a.send({ type: "PING", stream: 0, opaque: new Uint8Array(8) });
      await a.next("PONG");
      a.send({ type: "DATA", stream: head.stream, data: new TextEncoder().encode("part two") });
      a.send({ type: "END", stream: head.stream });
      expect(await r.text()).toBe("part one, part two");
      // The grace is a minute; the close comes once the stream ended (the test's own bound is far below it).
      expect((await a.closed).code).toBe(1000);
      expect(await own.proc.exited).toBe(0);
    } finally {
      relay = shared;
      await own.stop();
      cleanup(own.dir);
    }
  }, 30_000);

  test("a stream that never ends is cut once go_away_grace passed: the connection closes and the relay exits", async () => {
    const own = await startRelayProc(relayToml({ extra: 'go_away_grace = "500ms"' }));
    try {
      relay = own;
      const a = await rawAgent();
      await a.hello();
      const call = fetch(`${own.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body: "{}", headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
      const head = await a.next("REQUEST_HEAD");
      a.send({ type: "RESPONSE_HEAD", stream: head.stream, body: { status: 200, headers: [["content-type", "application/x-ndjson"]] } });
      a.send({ type: "DATA", stream: head.stream, data: new TextEncoder().encode('{"response":"a"}\n') });
      const r = await call;
      own.proc.kill("SIGTERM");
      expect(await a.next("GO_AWAY")).toMatchObject({ body: { code: "normal" } });
      await a.closed;
      expect((await r.text()).trimEnd().split("\n").at(-1)).toMatch(/^\{"error":"/);
      expect(await own.proc.exited).toBe(0);
    } finally {
      relay = shared;
      await own.stop();
      cleanup(own.dir);
    }
  }, 30_000);
});

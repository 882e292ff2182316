// Integration: the agent treats the relay as untrusted. A relay written against the wire sends a real daemon heads with
// credentials, cookies, proxy hints and a foreign Host (the upstream sees none of them, and the broker's own Host),
// bodies that differ from their declared length (they never reach the upstream), frames that break the protocol (each
// closes that one connection; the daemon reconnects and serves on), lies about what it received (credit for bytes never
// sent), GO_AWAY at every connect (met with the backoff) and terminal escapes in its words (shown, not obeyed).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { decodeMessage, encode, encodeBatch } from "../../src/protocol/codec.ts";
import { CAPABILITIES, MAX_PAYLOAD, PROTOCOL_VERSION, type Frame } from "../../src/protocol/messages.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { TUNNEL_ID, daemonToml, startAgentDaemon } from "./helpers.ts";

/** The daemon's [tunnel] max_streams. */
const AGENT_MAX_STREAMS = 4;
let fake: FakeOllama;
let daemon: DaemonProc;
let relay: ReturnType<typeof Bun.serve>;
let agent: ServerWebSocket<unknown> | null = null;
const answers = new Map<number, { frames: Frame[]; done: () => void }>();
/** Agent connections so far (one HELLO each), and how each that ended was closed by the agent. */
let hellos = 0;
const closes: { code: number; reason: string }[] = [];
/** GO_AWAYs the agent sent (it says why before it closes). */
const goAways: string[] = [];
/** Tokens of the answers the agent offered to resume (RESUME). */
const offers: string[] = [];
/** The Sec-WebSocket-Extensions of each upgrade the agent sent. */
const offered: (string | null)[] = [];
/** The relay sends every agent away (GO_AWAY normal) right after its WELCOME. */
let sendAway = false;

beforeAll(async () => {
  fake = await startFakeOllama();
  relay = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => {
      offered.push(req.headers.get("sec-websocket-extensions"));
      return srv.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 });
    },
    websocket: {
      // The relay would compress if the agent let it (a small frame that inflates to 128 MiB in the agent).
      perMessageDeflate: true,
      message(ws, msg) {
        const m = decodeMessage(msg as Uint8Array);
        if (m.type === "HELLO") {
          ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, tunnelId: TUNNEL_ID } }));
          agent = ws;
          hellos++;
          if (sendAway) ws.send(encode({ type: "GO_AWAY", stream: 0, body: { code: "normal", reason: "go elsewhere" } }));
          return;
        }
        for (const f of m.type === "BATCH" ? m.frames : [m]) {
          if (f.type === "PING") ws.send(encode({ type: "PONG", stream: 0, opaque: f.opaque }));
          if (f.type === "GO_AWAY") goAways.push(f.body.code);
          if (f.type === "RESUME") offers.push(f.body.token);
          const a = answers.get(f.stream);
          if (!a) continue;
          a.frames.push(f);
          if (f.type === "END" || f.type === "RESET") a.done();
        }
      },
      close(_ws, code, reason) {
        closes.push({ code, reason });
      },
    },
  });
  // A small [tunnel] max_streams: the test of streams beyond it opens a few, not hundreds.
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${relay.port}/agent`, tunnel: `max_streams = ${AGENT_MAX_STREAMS}` }));
});
afterAll(async () => {
  await daemon?.stop();
  relay?.stop(true);
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
});

/** Sends one request over the agent's connection as the relay would, and collects the answer's frames. */
async function ask(id: number, head: { method: string; path: string; headers: [string, string][] }, body: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  const done = new Promise<void>((resolve) => answers.set(id, { frames, done: resolve }));
  agent!.send(encode({ type: "REQUEST_HEAD", stream: id, body: head }));
  if (body) agent!.send(encode({ type: "DATA", stream: id, data: new TextEncoder().encode(body) }));
  agent!.send(encode({ type: "END", stream: id }));
  await done;
  return frames;
}

test("credentials, cookies, origins, proxy hints and a foreign Host from the relay never reach the upstream", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  const before = fake.requests.length;
  const frames = await ask(
    1,
    {
      method: "POST",
      path: "/api/generate",
      headers: [
        ["authorization", "Bearer stolen-relay-secret"],
        ["cookie", "session=relay"],
        ["origin", "https://evil.example"],
        ["proxy-authorization", "Basic cmVsYXk="],
        ["forwarded", "for=6.6.6.6"],
        ["x-forwarded-for", "6.6.6.6"],
        ["x-forwarded-host", "evil.example"],
        ["x-real-ip", "6.6.6.6"],
        ["host", "evil.example"],
        ["content-type", "application/json"],
        ["x-kept", "yes"],
        ["content-length", String(body.length)],
      ],
    },
    body,
  );
  const head = frames.find((f) => f.type === "RESPONSE_HEAD");
  expect(head && head.type === "RESPONSE_HEAD" ? head.body.status : null).toBe(200);
  const seen = fake.requests.slice(before);
  expect(seen.map((r) => r.path)).toEqual(["/api/generate"]);
  const h = seen[0]!.headers;
  for (const name of ["authorization", "cookie", "origin", "proxy-authorization", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip"]) expect({ name, value: h[name] }).toEqual({ name, value: undefined });
  expect(h.host).not.toContain("evil");
  expect(h["x-kept"]).toBe("yes");
  expect((seen[0]!.json as { prompt: string }).prompt).toBe("hi");
});

test("a path outside [tunnel] allowed_paths is refused by the agent, whatever the relay sends", async () => {
  const before = fake.requests.length;
  const frames = await ask(3, { method: "POST", path: "/api/pull", headers: [["content-type", "application/json"]] }, "");
  const head = frames.find((f) => f.type === "RESPONSE_HEAD");
  expect(head && head.type === "RESPONSE_HEAD" ? head.body.status : null).toBe(403);
  expect(fake.requests.length).toBe(before);
});

test("a method the tunnel does not serve (FOO, which Bun's Request quietly makes a GET; PROPFIND) is a 405 at the agent, reaching nothing", async () => {
  const before = fake.requests.length;
  const connected = hellos;
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  let id = 21;
  for (const method of ["FOO", "PROPFIND", "GETX"]) {
    const frames = await ask(id, { method, path: "/api/generate", headers: [["content-type", "application/json"], ["content-length", String(body.length)]] }, body);
    id += 2;
    const head = frames.find((f) => f.type === "RESPONSE_HEAD");
    const text = frames.map((f) => (f.type === "DATA" ? new TextDecoder().decode(f.data) : "")).join("");
    expect({ method, status: head && head.type === "RESPONSE_HEAD" ? head.body.status : null, text }).toEqual({ method, status: 405, text: expect.stringContaining("is not an HTTP method the tunnel serves") });
  }
  // Before, FOO reached the upstream as a GET (Ollama answered it), PROPFIND as itself.
  expect(fake.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  expect(hellos).toBe(connected);
  expect(daemon.stderr()).toMatch(/warn tunnel: refused a request from the relay method=FOO path=\/api\/generate/);
});

test("every X-Forwarded-* header and any spelling of a stripped name from the relay never reach the upstream", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  const hints: [string, string][] = [
    ["X-Forwarded-Proto", "https"],
    ["x-forwarded-port", "443"],
    ["X-Forwarded-Prefix", "/evil"],
    ["X-Forwarded-Server", "evil.example"],
    ["X-FORWARDED-FOR", "6.6.6.6"],
    ["X-Forwarded-Host", "evil.example"],
    ["AUTHORIZATION", "Bearer stolen-relay-secret"],
    ["Cookie", "session=relay"],
    ["Origin", "https://evil.example"],
    ["Proxy-Authorization", "Basic cmVsYXk="],
    ["FORWARDED", "for=6.6.6.6"],
    ["X-Real-IP", "6.6.6.6"],
    ["HOST", "evil.example"],
  ];
  const before = fake.requests.length;
  const frames = await ask(5, { method: "POST", path: "/api/generate", headers: [...hints, ["content-type", "application/json"], ["X-Kept", "yes"], ["content-length", String(body.length)]] }, body);
  const head = frames.find((f) => f.type === "RESPONSE_HEAD");
  expect(head && head.type === "RESPONSE_HEAD" ? head.body.status : null).toBe(200);
  const seen = fake.requests.slice(before).filter((r) => r.path === "/api/generate");
  expect(seen.length).toBe(1);
  const h = seen[0]!.headers;
  const leaked = Object.keys(h).filter((k) => k.startsWith("x-forwarded-") || hints.some(([name]) => name.toLowerCase() === k && k !== "host"));
  expect(leaked).toEqual([]);
  expect(h.host).not.toContain("evil");
  expect(h["x-kept"]).toBe("yes");
});

test("a body longer or shorter than its declared Content-Length never reaches the upstream, small or streamed", async () => {
  const before = fake.requests.length;
  const json = (n: number) => JSON.stringify({ model: "llama3.2:1b", prompt: "x".repeat(n), stream: false });
  const cases = [
    { declared: 10, body: json(40) },
    { declared: json(40).length + 20, body: json(40) },
    { declared: 100_000, body: json(200_000) },
    { declared: 300_000, body: json(200_000) },
  ];
  let id = 7;
  for (const c of cases) {
    const frames = await ask(id, { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"], ["content-length", String(c.declared)]] }, c.body);
    const head = frames.find((f) => f.type === "RESPONSE_HEAD");
    const status = head && head.type === "RESPONSE_HEAD" ? head.body.status : null;
    // A reset, or an error answer: never a 200 the upstream made from bytes that belong to no request.
    expect({ declared: c.declared, sent: c.body.length, ok: status !== null && status < 300 }).toEqual({ declared: c.declared, sent: c.body.length, ok: false });
    id += 2;
  }
  expect(fake.requests.slice(before).filter((r) => r.path === "/api/generate")).toEqual([]);
});

test("a fragment after the query or a control character in a header value from the relay never reaches the upstream: 400 at the agent, in the caller's dialect", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  const headers: [string, string][] = [["content-type", "application/json"], ["content-length", String(body.length)]];
  const before = fake.requests.length;
  const status = (frames: Frame[]) => {
    const head = frames.find((f) => f.type === "RESPONSE_HEAD");
    return head && head.type === "RESPONSE_HEAD" ? head.body.status : (() => { const r = frames.find((f) => f.type === "RESET"); return r && r.type === "RESET" ? r.body.code : "none"; })();
  };
  // The path's checks pass "/api/generate?x#y"; Ollama's Go reads "x#y" as the query, uvicorn and Bun drop "#y".
  const fragment = await ask(27, { method: "POST", path: "/api/generate?x#/../pull", headers }, body);
  const text = fragment.map((f) => (f.type === "DATA" ? new TextDecoder().decode(f.data) : "")).join("");
  expect({ status: status(fragment), text }).toEqual({ status: 400, text: expect.stringContaining("fragment") });
  // Bun's Headers keeps \x01 and DEL (it refuses only NUL, CR, LF): the upstream client wrote them out as they came.
  // The relay's own listener (Bun's parser) takes DEL from any client, so this is a caller's 400, not a broken relay.
  let id = 29;
  for (const value of ["a\x01b", "a\x7fb"]) {
    const frames = await ask(id, { method: "POST", path: "/api/generate", headers: [...headers, ["x-a", value]] }, body);
    id += 2;
    const text = frames.map((f) => (f.type === "DATA" ? new TextDecoder().decode(f.data) : "")).join("");
    expect({ value, status: status(frames), text }).toEqual({ value, status: 400, text: expect.stringContaining("control character") });
  }
  expect(fake.requests.slice(before).map((r) => `${r.method} ${r.path}${r.search}`)).toEqual([]);
  // The same request without them is served: the refusal is the bytes, not the route.
  expect(status(await ask(33, { method: "POST", path: "/api/generate?x", headers: [...headers, ["x-a", "a\tb"]] }, body))).toBe(200);
});

test("hop-by-hop headers from the relay (those its Connection names, Upgrade, TE, Trailer, Keep-Alive, Transfer-Encoding, Expect) never reach the upstream: the agent's request is framed and upgraded by no one but itself", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  const before = fake.requests.length;
  const frames = await ask(37, {
    method: "POST",
    path: "/api/generate",
    headers: [
      ["content-type", "application/json"],
      ["content-length", String(body.length)],
      ["Connection", "close, X-Secret, Upgrade"],
      ["X-Secret", "hop"],
      ["Upgrade", "websocket"],
      ["TE", "trailers"],
      ["Trailer", "X-Checksum"],
      ["Keep-Alive", "timeout=5"],
      ["Proxy-Connection", "keep-alive"],
      ["Transfer-Encoding", "chunked"],
      ["Expect", "100-continue"],
      ["X-Kept", "yes"],
    ],
  }, body);
  const head = frames.find((f) => f.type === "RESPONSE_HEAD");
  expect(head && head.type === "RESPONSE_HEAD" ? head.body.status : null).toBe(200);
  const seen = fake.requests.slice(before);
  expect(seen.map((r) => r.path)).toEqual(["/api/generate"]);
  const h = seen[0]!.headers;
  const leaked = ["connection", "x-secret", "upgrade", "te", "trailer", "keep-alive", "proxy-connection", "transfer-encoding", "expect"].filter((n) => h[n] !== undefined && !(n === "connection" && /^keep-alive$/i.test(h[n]!)));
  expect(leaked).toEqual([]);
  expect({ length: h["content-length"], kept: h["x-kept"], prompt: (seen[0]!.json as { prompt: string }).prompt }).toEqual({ length: String(body.length), kept: "yes", prompt: "hi" });
});

/** A frame of `type` on `stream` with the raw `payload` and `flags`: what the codec would never write. */
function rawFrame(type: number, stream: number, payload: Uint8Array | string = new Uint8Array(), flags = 0): Uint8Array {
  const p = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const b = new Uint8Array(6 + p.length);
  b[0] = type;
  b[1] = flags;
  new DataView(b.buffer).setUint32(2, stream);
  b.set(p, 6);
  return b;
}

const TOKEN = "q2Vv8k3xR0a9bL1cD4eF5g";
const headOf = (path: string, method = "POST") => encode({ type: "REQUEST_HEAD", stream: 1, body: { method, path, headers: [["content-type", "application/json"]] } });

/** What a hostile relay sends on a live connection, and the protocol error the agent names when it closes it. */
const BAD: { what: string; code: string; send: (ws: ServerWebSocket<unknown>) => void }[] = [
  { what: "a text message", code: "not_binary", send: (ws) => ws.send("hello") },
  // Read as a string, `new Uint8Array("3000000000")` made a 3 GB buffer before the codec saw the length (frame_too_large).
  { what: "a text message that reads as a number", code: "not_binary", send: (ws) => ws.send("3000000000") },
  // Bun's WebSocket client takes messages up to ~128 MiB whatever its options say (maxPayload is not honoured): the codec's
  // size check, the first thing it reads, closes the connection; the memory was spent once, then freed (docs/protocol.md).
  { what: "a message one byte over the largest frame (1 MiB + 6)", code: "frame_too_large", send: (ws) => ws.send(rawFrame(0x11, 1, new Uint8Array(MAX_PAYLOAD + 1))) },
  { what: "a 16 MiB message", code: "frame_too_large", send: (ws) => ws.send(rawFrame(0x11, 1, new Uint8Array(16 << 20))) },
  { what: "a BATCH over the largest frame", code: "frame_too_large", send: (ws) => ws.send(rawFrame(0x30, 0, new Uint8Array(MAX_PAYLOAD + 1))) },
  { what: "an unknown frame type", code: "unknown_type", send: (ws) => ws.send(rawFrame(0x7f, 0)) },
  { what: "reserved flags set", code: "bad_flags", send: (ws) => ws.send(rawFrame(0x20, 0, new Uint8Array(8), 1)) },
  { what: "a control frame on a stream", code: "bad_stream_id", send: (ws) => ws.send(rawFrame(0x20, 3, new Uint8Array(8))) },
  { what: "a stream opened on an even id", code: "bad_stream_id", send: (ws) => ws.send(encode({ type: "REQUEST_HEAD", stream: 2, body: { method: "GET", path: "/api/tags", headers: [] } })) },
  {
    what: "a stream opened twice",
    code: "bad_stream_id",
    send: (ws) => {
      ws.send(headOf("/api/generate"));
      ws.send(headOf("/api/generate"));
    },
  },
  { what: "a RESPONSE_HEAD sent to the agent", code: "unexpected_frame", send: (ws) => ws.send(encode({ type: "RESPONSE_HEAD", stream: 1, body: { status: 200, headers: [] } })) },
  { what: "a second WELCOME", code: "unexpected_frame", send: (ws) => ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, tunnelId: "mallory" } })) },
  { what: "a RESUME sent to the agent", code: "unexpected_frame", send: (ws) => ws.send(encode({ type: "RESUME", stream: 0, body: { token: TOKEN } })) },
  { what: "a request path without its leading slash", code: "bad_payload", send: (ws) => ws.send(rawFrame(0x10, 1, JSON.stringify({ method: "GET", path: "api/tags", headers: [] }))) },
  { what: "a head that is not JSON", code: "bad_payload", send: (ws) => ws.send(rawFrame(0x10, 1, "{not json")) },
  { what: "a zero credit increment", code: "bad_payload", send: (ws) => ws.send(rawFrame(0x15, 1, new Uint8Array(4))) },
  { what: "an empty BATCH", code: "bad_payload", send: (ws) => ws.send(rawFrame(0x30, 0)) },
  {
    what: "a BATCH inside a BATCH",
    code: "unexpected_frame",
    send: (ws) => {
      const inner = rawFrame(0x30, 0, rawFrame(0x20, 0, new Uint8Array(8)));
      const outer = new Uint8Array(4 + inner.length);
      new DataView(outer.buffer).setUint32(0, inner.length);
      outer.set(inner, 4);
      ws.send(rawFrame(0x30, 0, outer));
    },
  },
  {
    what: "request DATA beyond the stream's credit",
    code: "flow_control",
    send: (ws) => {
      // A GET's body is never read, so no credit comes back: 576 KiB against a 512 KiB window.
      ws.send(headOf("/api/tags", "GET"));
      for (let i = 0; i < 9; i++) ws.send(encode({ type: "DATA", stream: 1, data: new Uint8Array(64 * 1024) }));
    },
  },
];

test("frames that break the protocol close only that connection, naming the error; the daemon reconnects and serves on", async () => {
  const api = daemon.urls.api!;
  for (const bad of BAD) {
    const closed = closes.length;
    const connected = hellos;
    bad.send(agent!);
    await until(() => closes.length > closed, 5_000, `the agent to close the connection after ${bad.what}`);
    expect({ what: bad.what, reason: closes.at(-1)!.reason }).toEqual({ what: bad.what, reason: expect.stringMatching(new RegExp(`^protocol_error: ${bad.code}: `)) });
    expect(goAways.at(-1)).toBe("protocol_error");
    await until(() => hellos > connected, 5_000, `the agent to reconnect after ${bad.what}`);
  }
  expect(daemon.proc.exitCode).toBeNull();
  expect((await fetch(`${api}/healthz`)).status).toBe(200);
  // Served on the last connection, as before any of it.
  const frames = await ask(1, { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"]] }, JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }));
  expect(frames.find((f) => f.type === "RESPONSE_HEAD")).toMatchObject({ body: { status: 200 } });
  // One structured line per closed connection, no stack dumps, no stray failures.
  expect(daemon.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled/i);
}, 60_000);

test("the agent offers no compression: a relay cannot make it inflate a small frame into a 128 MiB message", async () => {
  // Bun's client honours no receive limit of ours (about 128 MiB a message), so what arrives must at least be sent in full.
  expect(offered.length).toBeGreaterThan(0);
  expect(offered.filter((h) => h !== null)).toEqual([]);
  // The large messages above arrived as they were sent (the relay asked for compression and did not get it).
  expect(daemon.proc.exitCode).toBeNull();
});

test("frames for streams that do not exist, and a RESUMED for an answer the agent does not hold, are tolerated: refused, not obeyed", async () => {
  const connected = hellos;
  const closed = closes.length;
  const ws = agent!;
  const ghost = 41;
  ws.send(encode({ type: "DATA", stream: ghost, data: new TextEncoder().encode("stray") }));
  ws.send(encode({ type: "WINDOW_UPDATE", stream: ghost, increment: 1024 }));
  ws.send(encode({ type: "RESET", stream: ghost, body: { code: "cancel", reason: "stray" } }));
  ws.send(encode({ type: "END", stream: ghost }));
  const resumed = new Promise<Frame[]>((resolve) => {
    const frames: Frame[] = [];
    answers.set(43, { frames, done: () => resolve(frames) });
  });
  ws.send(encode({ type: "RESUMED", stream: 43, body: { token: TOKEN, offset: 0 } }));
  expect((await resumed).map((f) => f.type)).toEqual(["RESET"]);
  expect((await resumed)[0]).toMatchObject({ body: { code: "refused" } });
  // The same connection serves the next request.
  const frames = await ask(45, { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"]] }, JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }));
  expect(frames.find((f) => f.type === "RESPONSE_HEAD")).toMatchObject({ body: { status: 200 } });
  expect({ hellos, closes: closes.length }).toEqual({ hellos: connected, closes: closed });
});

test("streams beyond [tunnel] max_streams are refused (RESET refused), and the slots come back once the relay ends its streams", async () => {
  const ws = agent!;
  const open = Array.from({ length: AGENT_MAX_STREAMS }, (_, i) => 61 + 2 * i);
  // Requests whose bodies never come: each holds a slot.
  for (const id of open) ws.send(encode({ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"]] } }));
  const over = 61 + 2 * AGENT_MAX_STREAMS;
  const refused = new Promise<Frame[]>((resolve) => {
    const frames: Frame[] = [];
    answers.set(over, { frames, done: () => resolve(frames) });
  });
  ws.send(encode({ type: "REQUEST_HEAD", stream: over, body: { method: "GET", path: "/api/tags", headers: [] } }));
  expect(await refused).toEqual([{ type: "RESET", stream: over, body: { code: "refused", reason: `too many streams (limit ${AGENT_MAX_STREAMS})` } }]);
  for (const id of open) ws.send(encode({ type: "RESET", stream: id, body: { code: "cancel", reason: "the client went away" } }));
  const frames = await ask(over + 2, { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"]] }, JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }));
  expect(frames.find((f) => f.type === "RESPONSE_HEAD")).toMatchObject({ body: { status: 200 } });
});

test("a request refused before its body was read (streamed, no Content-Length) frees its stream: refusals never use up max_streams", async () => {
  const ws = agent!;
  const connected = hellos;
  const before = fake.requests.length;
  const enc = new TextEncoder();
  // Twice max_streams refusals, each with a body the agent never reads: before, each held a stream (and its unread
  // bytes) for good, and past max_streams every request of the tunnel was refused.
  let id = 201;
  for (let i = 0; i < 2 * AGENT_MAX_STREAMS; i++, id += 2) {
    const frames = await ask(id, { method: i % 2 ? "FOO" : "POST", path: i % 2 ? "/api/generate" : "/api/pull", headers: [["content-type", "application/json"]] }, JSON.stringify({ model: "llama3.2:1b" }));
    const head = frames.find((f) => f.type === "RESPONSE_HEAD");
    expect(head && head.type === "RESPONSE_HEAD" ? head.body.status : null).toBe(i % 2 ? 405 : 403);
  }
  // Refused while its upload goes on: what comes after the answer is dropped too, and the stream ends with the upload.
  const answered = new Promise<Frame[]>((resolve) => {
    const frames: Frame[] = [];
    answers.set(id, { frames, done: () => resolve(frames) });
  });
  ws.send(encode({ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/pull", headers: [["content-type", "application/json"]] } }));
  ws.send(encode({ type: "DATA", stream: id, data: enc.encode("{") }));
  expect((await answered).find((f) => f.type === "RESPONSE_HEAD")).toMatchObject({ body: { status: 403 } });
  ws.send(encode({ type: "DATA", stream: id, data: new Uint8Array(64 * 1024) }));
  ws.send(encode({ type: "END", stream: id }));
  const frames = await ask(id + 2, { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"]] }, JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }));
  expect(frames.find((f) => f.type === "RESPONSE_HEAD")).toMatchObject({ body: { status: 200 } });
  expect(fake.requests.slice(before).map((r) => r.path)).toEqual(["/api/generate"]);
  expect(hellos).toBe(connected);
  const status = (await (await fetch(`${daemon.urls.api}/api/v1/tunnel`, { headers: { authorization: `Bearer ${await apiToken(daemon)}` } })).json()) as { activeStreams: number };
  expect(status.activeStreams).toBe(0);
});

test("a relay that acknowledges bytes the agent never sent cannot make it forget them: a resumed answer is replayed whole and ends", async () => {
  const enc = new TextEncoder();
  fake.options.tokens = 30;
  fake.options.tokenDelayMs = 30;
  try {
    const first: Frame[] = [];
    answers.set(51, { frames: first, done: () => {} });
    const ws = agent!;
    const body = JSON.stringify({ model: "llama3.2:1b", prompt: "count" });
    ws.send(encode({ type: "REQUEST_HEAD", stream: 51, body: { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"], ["content-length", String(body.length)]] } }));
    ws.send(encode({ type: "DATA", stream: 51, data: enc.encode(body) }));
    ws.send(encode({ type: "END", stream: 51 }));
    const head = await until(() => (first.some((f) => f.type === "DATA") ? first.find((f) => f.type === "RESPONSE_HEAD") : null), 5_000, "the answer's head and first bytes");
    const token = head.type === "RESPONSE_HEAD" ? head.body.resume! : "";
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // The session lost: the agent holds the answer (its upstream generating on) and offers it on its next connection.
    const connected = hellos;
    ws.close();
    await until(() => hellos > connected && offers.includes(token), 5_000, "the agent to offer the answer on its new connection");
    await Bun.sleep(300);
    const resumed: Frame[] = [];
    const ended = new Promise<void>((resolve) => answers.set(1, { frames: resumed, done: resolve }));
    // Taken over from byte 0, with credit for far more than the agent ever sent: in one message, dispatched in one go.
    agent!.send(
      encodeBatch([
        encode({ type: "RESUMED", stream: 1, body: { token, offset: 0 } }),
        encode({ type: "END", stream: 1 }),
        encode({ type: "WINDOW_UPDATE", stream: 1, increment: 0x7fffffff }),
      ]),
    );
    expect(await Promise.race([ended.then(() => "ended"), Bun.sleep(5_000).then(() => "hung")])).toBe("ended");
    expect(resumed.at(-1)!.type).toBe("END");
    const text = resumed.map((f) => (f.type === "DATA" ? new TextDecoder().decode(f.data) : "")).join("");
    expect([...text.matchAll(/tok(\d+) /g)].map((m) => Number(m[1]))).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(text).toContain('"done":true');
  } finally {
    fake.options.tokens = 5;
    fake.options.tokenDelayMs = 0;
  }
  expect(daemon.stderr()).not.toMatch(/unhandled|uncaught|RangeError/i);
}, 30_000);

test("a relay that sends the agent away (GO_AWAY) as soon as it connects, again and again, meets the backoff, not a reconnect storm", async () => {
  const from = hellos;
  sendAway = true;
  try {
    // The connection it has ends: each one after it is sent away at once.
    agent!.close();
    await Bun.sleep(3_000);
  } finally {
    sendAway = false;
  }
  // Backoff from 100 ms doubling to 400 ms (daemonToml): about 10 connections in 3 s; a storm would be hundreds.
  const attempts = hellos - from;
  expect(attempts).toBeGreaterThanOrEqual(3);
  expect(attempts).toBeLessThanOrEqual(15);
  expect(daemon.proc.exitCode).toBeNull();
  // It stays and serves once the relay keeps it.
  await until(async () => {
    const connected = hellos;
    await Bun.sleep(600);
    return hellos === connected;
  }, 10_000, "the agent to stay connected");
  const frames = await ask(1, { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"]] }, JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }));
  expect(frames.find((f) => f.type === "RESPONSE_HEAD")).toMatchObject({ body: { status: 200 } });
}, 30_000);

// Last: the relay sends the agent away for good (unauthorized), which it does not retry.
test("a relay's words with terminal escapes (OSC 52 clipboard write, clear screen) reach status as text, never as escapes", async () => {
  const evil = "\u001b]52;c;ZWNobyBwd25lZA==\u0007\u001b[2J";
  agent!.send(encode({ type: "GO_AWAY", stream: 0, body: { code: "unauthorized", reason: `go away ${evil}` } }));
  const headers = { authorization: `Bearer ${await apiToken(daemon)}` };
  const st = await until(
    async () => {
      const t = (await (await fetch(`${daemon.urls.api}/api/v1/tunnel`, { headers })).json()) as { state: string; lastError: string | null };
      return t.state === "auth_failed" ? t : null;
    },
    5_000,
    "the tunnel to stop (auth_failed)",
  );
  expect(st.lastError).toContain("go away \\u001b]52;c;ZWNobyBwd25lZA==\\u0007\\u001b[2J");
  expect(st.lastError).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
});

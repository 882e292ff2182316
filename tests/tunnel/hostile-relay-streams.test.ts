// Integration: a hostile relay's bad streams, thousands of them, cost the agent nothing it keeps: refused paths and
// methods (with a body never read, too), streams reset at once, a Content-Length given twice, DATA after END, credit
// past 2^31, frames for streams that never were. The daemon stays connected, serves the next request, and its heap does not grow with their number.
// And nothing the agent sends the relay (handshake, answers, errors, reset reasons) holds a secret or a local path.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { decodeMessage, encode } from "../../src/protocol/codec.ts";
import { CAPABILITIES, PROTOCOL_VERSION, type Frame } from "../../src/protocol/messages.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { liveObjects, PROBE_PRELOAD } from "../helpers/alloc-probe.ts";
import { until } from "../helpers/until.ts";
import { TUNNEL_ID, daemonToml, startAgentDaemon } from "./helpers.ts";

/** An upstream nobody listens at (port 9 is discard, closed here), with a private path. */
const LAN_URL = "http://127.0.0.1:9/private-lan-path";
let fake: FakeOllama;
let fakeStopped = false;
let daemon: DaemonProc;
let relay: ReturnType<typeof Bun.serve>;
let agent: ServerWebSocket<unknown> | null = null;
let hellos = 0;
/** While set, every message the agent sends (and its upgrade's headers) as text, to look for what it must not say. */
let heard: string[] | null = null;
const AUTH_SECRET = "upstream-secret-value-0123456789";
/** Streams the agent ended (END or RESET), and the answers of the requests a test waits for. */
let ended = 0;
const answers = new Map<number, { frames: Frame[]; done: () => void }>();

beforeAll(async () => {
  fake = await startFakeOllama();
  relay = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => {
      heard?.push(JSON.stringify({ ...Object.fromEntries(req.headers), authorization: undefined }));
      return srv.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 });
    },
    websocket: {
      message(ws, msg) {
        heard?.push(Buffer.from(msg as Uint8Array).toString("latin1"));
        const m = decodeMessage(msg as Uint8Array);
        if (m.type === "HELLO") {
          // Capabilities no agent knows, beside the real ones: ignored, never a failed handshake.
          ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: [...CAPABILITIES, "evil-cap", "admin"], tunnelId: TUNNEL_ID } }));
          agent = ws;
          hellos++;
          return;
        }
        for (const f of m.type === "BATCH" ? m.frames : [m]) {
          if (f.type === "PING") ws.send(encode({ type: "PONG", stream: 0, opaque: f.opaque }));
          if (f.type === "END" || f.type === "RESET") ended++;
          const a = answers.get(f.stream);
          if (!a) continue;
          a.frames.push(f);
          if (f.type === "END" || f.type === "RESET") a.done();
        }
      },
    },
  });
  // The upstream needs a credential, and a second one on the LAN is down: what the relay may hear of either is their names.
  const toml = daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${relay.port}/agent` }).replace(`url = "${fake.url}"`, `url = "${fake.url}"\nauth_secret = "upstream-fake"`);
  daemon = await startAgentDaemon(`${toml}\n[[upstreams]]\nname = "lan"\nurl = "${LAN_URL}"\n`, { CLOUDTOLOCALLLM_SECRET_UPSTREAM_FAKE: AUTH_SECRET }, true, PROBE_PRELOAD);
});
afterAll(async () => {
  await daemon?.stop();
  relay?.stop(true);
  if (!fakeStopped) await fake?.stop();
  if (daemon) removeHome(daemon.home);
});

const json = [["content-type", "application/json"]] as [string, string][];
/** One bad stream of each kind, on stream ids from `id` (odd, two apart): what each sends. */
const KINDS: ((id: number) => Frame[])[] = [
  // A refused path, a refused method (Bun would make FOO a GET), model management.
  (id) => [{ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/v1/status", headers: json } }, { type: "END", stream: id }],
  (id) => [{ type: "REQUEST_HEAD", stream: id, body: { method: "FOO", path: "/api/generate", headers: json } }, { type: "END", stream: id }],
  (id) => [{ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/pull", headers: json } }, { type: "END", stream: id }],
  // Opened and reset before its body: the broker never sees it.
  (id) => [{ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/generate", headers: json } }, { type: "RESET", stream: id, body: { code: "cancel", reason: "gone" } }],
  // Content-Length twice: the stream is reset, naming it.
  (id) => [{ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/generate", headers: [...json, ["content-length", "2"], ["content-length", "9"]] } }, { type: "DATA", stream: id, data: new Uint8Array(2) }, { type: "END", stream: id }],
  // A served request, then DATA after its END and credit far past 2^31 (two increments of 2^31-1).
  (id) => [
    { type: "REQUEST_HEAD", stream: id, body: { method: "GET", path: "/api/version", headers: [] } },
    { type: "END", stream: id },
    { type: "DATA", stream: id, data: new Uint8Array(16) },
    { type: "WINDOW_UPDATE", stream: id, increment: 0x7fffffff },
    { type: "WINDOW_UPDATE", stream: id, increment: 0x7fffffff },
  ],
  // Refused with a streamed body (no Content-Length) the agent never reads: before, its unread bytes held the stream.
  (id) => [{ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/create", headers: json } }, { type: "DATA", stream: id, data: new Uint8Array(4096) }, { type: "END", stream: id }],
  // Frames for a stream that was never opened (an id far ahead).
  (id) => [{ type: "DATA", stream: id + 1_000_001, data: new Uint8Array(4) }, { type: "WINDOW_UPDATE", stream: id + 1_000_001, increment: 1 }, { type: "END", stream: id + 1_000_001 }],
];

/** The kinds the agent answers (END, or a RESET naming why); the others it drops without a word. */
const ANSWERED = new Set([0, 1, 2, 4, 5, 6]);
let nextId = 1;
let answered = 0;
/** Sends `n` bad streams (the kinds in turn), then one good request, and waits for it and for no stream to be left open. */
async function badStreams(n: number, headers: Record<string, string>): Promise<void> {
  const open = async () => ((await (await fetch(`${daemon.urls.api}/api/v1/tunnel`, { headers })).json()) as { activeStreams: number }).activeStreams;
  for (let i = 0; i < n; i++) {
    for (const f of KINDS[i % KINDS.length]!(nextId)) agent!.send(encode(f));
    if (ANSWERED.has(i % KINDS.length)) answered++;
    nextId += 2;
    // Within the agent's max_streams: on a loaded machine the agent can fall behind, and heads past it are refused
    // and count as frames that carry nothing (a flood of those is cut off by design: hostile-relay-floods.test.ts);
    // what this test sends is bad streams of every kind, not that flood.
    if (i % 250 === 249) await until(async () => (await open()) < 64, 10_000, "the agent to close the streams sent so far");
  }
  await until(async () => (await open()) === 0, 10_000, "no stream left open at the agent");
  const id = nextId;
  nextId += 2;
  const frames: Frame[] = [];
  const done = new Promise<void>((resolve) => answers.set(id, { frames, done: resolve }));
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  agent!.send(encode({ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/generate", headers: [...json, ["content-length", String(body.length)]] } }));
  agent!.send(encode({ type: "DATA", stream: id, data: new TextEncoder().encode(body) }));
  agent!.send(encode({ type: "END", stream: id }));
  await done;
  expect(frames.find((f) => f.type === "RESPONSE_HEAD")).toMatchObject({ body: { status: 200 } });
}

const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

test("10,000 bad streams of every kind keep the connection, serve the next request, and leave the agent's heap as it was", async () => {
  const headers = { authorization: `Bearer ${await apiToken(daemon)}` };
  const connected = hellos;
  // Warm: every path once (modules loaded, caches filled, the refusal log's window started).
  await badStreams(1_400, headers);
  // The heap settles first: a daemon loads some of its code a few seconds after it started (whatever the relay does),
  // and that is no object of a stream's.
  let before = await liveObjects(daemon);
  await until(async () => {
    await Bun.sleep(500);
    const now = await liveObjects(daemon);
    const settled = Math.abs(total(now.objects) - total(before.objects)) < 500;
    before = now;
    return settled;
  }, 30_000, "the daemon's heap to settle");
  await badStreams(10_000, headers);
  const after = await liveObjects(daemon);
  const grown = total(after.objects) - total(before.objects);
  // Kept per stream, 10,000 streams would be well over 50,000 objects (a Stream, its windows, queues and promises), and
  // at least 10,000 of one type: a type grown by 2,000 is a fifth of that. (Some hundreds of strings come and go with
  // the daemon's own logs and timers: 508 in one CI run beside other files.)
  const byType = Object.entries(after.objects)
    .map(([t, n]) => [t, n - (before.objects[t] ?? 0)] as const)
    .filter(([, d]) => d > 2_000);
  expect({ grown: grown < 5_000 ? "bounded" : grown, byType }).toEqual({ grown: "bounded", byType: [] });
  expect(hellos).toBe(connected);
  expect(daemon.proc.exitCode).toBeNull();
  // Each reset stream says why in its own words; none is a stack dump or a crash.
  expect(daemon.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled|RangeError/i);
  expect(ended).toBeGreaterThanOrEqual(answered);
}, 120_000);

/** One request as the relay sends it; resolves with what the agent answered (its head's status, body text, or reset). */
async function ask(method: string, path: string, headers: [string, string][], body = ""): Promise<string> {
  const id = nextId;
  nextId += 2;
  const frames: Frame[] = [];
  const done = new Promise<void>((resolve) => answers.set(id, { frames, done: resolve }));
  agent!.send(encode({ type: "REQUEST_HEAD", stream: id, body: { method, path, headers } }));
  if (body) agent!.send(encode({ type: "DATA", stream: id, data: new TextEncoder().encode(body) }));
  agent!.send(encode({ type: "END", stream: id }));
  await done;
  return JSON.stringify(frames.map((f) => (f.type === "DATA" ? new TextDecoder().decode(f.data) : f)));
}

test("nothing the agent tells a relay holds the API token, an upstream's credential or URL, or a local path: handshake, answers, errors", async () => {
  const token = await apiToken(daemon);
  heard = [];
  // A new connection: its upgrade and HELLO are heard too.
  const connected = hellos;
  agent!.close();
  await until(() => hellos > connected, 10_000, "the agent to reconnect");
  const gen = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  const said = [
    await ask("GET", "/api/tags", []),
    await ask("GET", "/v1/models", []),
    await ask("POST", "/api/generate", json, gen),
    await ask("POST", "/api/generate", json, JSON.stringify({ model: "nobody-has-this", prompt: "hi" })),
    await ask("POST", "/api/pull", json, "{}"),
    await ask("FOO", "/api/chat", json, "{}"),
    await ask("POST", "/api/v1/status", json, ""),
    await ask("POST", "/api/generate", [...json, ["content-length", "1"], ["content-length", "2"]], "x"),
  ];
  // The upstream fails now (busy), then is gone: the errors the relay hears name it, no more.
  fake.options.failWith503 = true;
  said.push(await ask("POST", "/api/generate", json, gen));
  fake.options.failWith503 = false;
  await fake.stop();
  fakeStopped = true;
  said.push(await ask("POST", "/api/generate", json, gen), await ask("GET", "/api/tags", []), await ask("GET", "/v1/models", []));
  // Every stream closed, the refused ones with a body too (their unread bytes dropped).
  const open = async () => ((await (await fetch(`${daemon.urls.api}/api/v1/tunnel`, { headers: { authorization: `Bearer ${token}` } })).json()) as { activeStreams: number }).activeStreams;
  await until(async () => (await open()) === 0, 10_000, "no stream left open at the agent");
  const all = heard.join("\n");
  heard = null;
  // The errors were answered, in words (the upstreams' names), so there was something to leak.
  expect(said.join("\n")).toMatch(/upstream \W+lan\W+ could not be reached/);
  const secrets = { apiToken: token, authSecret: AUTH_SECRET, lanUrl: "private-lan-path", upstreamPort: `:${new URL(fake.url).port}`, home: daemon.home, config: "tunnel.toml" };
  const leaked = Object.entries(secrets).filter(([, v]) => all.includes(v)).map(([k]) => k);
  expect(leaked).toEqual([]);
}, 60_000);

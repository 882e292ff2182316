// Integration: a relay that leaves the agent's streams waiting against a real daemon: a request's head and never its
// body, an answer given no credit. Each is reset once [tunnel] stall_timeout passed (logged), and its slot and its
// upstream request are let go; before, they were held for good.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { decodeMessage, encode } from "../../src/protocol/codec.ts";
import { CAPABILITIES, INITIAL_WINDOW, PROTOCOL_VERSION, type Frame } from "../../src/protocol/messages.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { TUNNEL_ID, daemonToml, startAgentDaemon } from "./helpers.ts";

/** The daemon's [tunnel] max_streams. */
const AGENT_MAX_STREAMS = 4;
let fake: FakeOllama;
let daemon: DaemonProc;
let relay: ReturnType<typeof Bun.serve>;
let agent: ServerWebSocket<unknown> | null = null;
/** Every frame the agent sent on a stream, by stream id. */
const frames = new Map<number, Frame[]>();

beforeAll(async () => {
  fake = await startFakeOllama();
  relay = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      message(ws, msg) {
        const m = decodeMessage(msg as Uint8Array);
        if (m.type === "HELLO") {
          ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, tunnelId: TUNNEL_ID } }));
          agent = ws;
          return;
        }
        // Heartbeats answered (the connection stays up); credit never given, bodies never sent unless a test does.
        for (const f of m.type === "BATCH" ? m.frames : [m]) {
          if (f.type === "PING") ws.send(encode({ type: "PONG", stream: 0, opaque: f.opaque }));
          else if (f.stream) (frames.get(f.stream) ?? frames.set(f.stream, []).get(f.stream)!).push(f);
        }
      },
    },
  });
  daemon = await startAgentDaemon(
    daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${relay.port}/agent`, tunnel: `max_streams = ${AGENT_MAX_STREAMS}\nstall_timeout = "1s"` }),
  );
});
afterAll(async () => {
  await daemon?.stop();
  relay?.stop(true);
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
});

const last = (id: number) => frames.get(id)?.at(-1);
const headOf = (id: number, body?: string) =>
  encode({ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/generate", headers: [["content-type", "application/json"], ...(body ? ([["content-length", String(body.length)]] as [string, string][]) : [])] } });

test("a relay that sends requests' heads and never their bodies (max_streams of them) has them reset once [tunnel] stall_timeout passed, logged once; the slots come back", async () => {
  const ws = agent!;
  const ids = Array.from({ length: AGENT_MAX_STREAMS }, (_, i) => 1 + 2 * i);
  // Two without a length, two with one (read whole before the broker sees them), one of those with half its body.
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  ws.send(headOf(ids[0]!));
  ws.send(headOf(ids[1]!));
  ws.send(encode({ type: "DATA", stream: ids[1]!, data: new TextEncoder().encode("{") }));
  ws.send(headOf(ids[2]!, body));
  ws.send(headOf(ids[3]!, body));
  ws.send(encode({ type: "DATA", stream: ids[3]!, data: new TextEncoder().encode(body.slice(0, 10)) }));
  // Before, each waited for its body for good: every later request of the tunnel was refused (too many streams).
  await until(() => ids.every((id) => last(id)?.type === "RESET"), 20_000, "every stalled stream to be reset");
  for (const id of ids) expect(last(id)).toEqual({ type: "RESET", stream: id, body: { code: "timeout", reason: "the relay sent nothing more of the request for 1 s" } });
  // One line for the lot (a relay can stall every stream at once), no stack dumps.
  await daemon.waitFor(/warn tunnel: reset a request the relay left waiting reason="the relay sent nothing more of the request for 1 s"/);
  expect(daemon.stderr().match(/reset a request the relay left waiting/g)?.length).toBe(1);
  // The slots came back: a whole request is answered.
  const id = 1 + 2 * AGENT_MAX_STREAMS;
  ws.send(headOf(id, body));
  ws.send(encode({ type: "DATA", stream: id, data: new TextEncoder().encode(body) }));
  ws.send(encode({ type: "END", stream: id }));
  await until(() => last(id)?.type === "END", 10_000, "the next request's answer");
  expect(frames.get(id)![0]).toMatchObject({ type: "RESPONSE_HEAD", body: { status: 200 } });
  expect(fake.requests.filter((r) => r.path === "/api/generate").length).toBe(1);
  expect(daemon.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled/i);
}, 40_000);

test("a relay that gives a long generation no credit has it reset once stall_timeout passed: the agent sent no more than the window, and the upstream request is cancelled", async () => {
  fake.options.tokens = 1_000_000;
  fake.options.tokenDelayMs = 0;
  try {
    const ws = agent!;
    const id = 101;
    const body = JSON.stringify({ model: "llama3.2:1b", prompt: "a long answer" });
    const aborts = fake.aborts.length;
    ws.send(headOf(id, body));
    ws.send(encode({ type: "DATA", stream: id, data: new TextEncoder().encode(body) }));
    ws.send(encode({ type: "END", stream: id }));
    // Before, the answer waited for credit for good, its upstream generating into the agent's buffer up to its bound.
    await until(() => last(id)?.type === "RESET", 20_000, "the answer to be reset");
    expect(last(id)).toEqual({ type: "RESET", stream: id, body: { code: "timeout", reason: "the relay gave the answer no credit for 1 s (its client stopped reading)" } });
    const sent = frames.get(id)!.reduce((n, f) => n + (f.type === "DATA" ? f.data.length : 0), 0);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(INITIAL_WINDOW);
    await fake.waitForAborts(aborts + 1, 10_000);
    await daemon.waitFor(/warn tunnel: reset a request the relay left waiting reason="the relay gave the answer no credit for 1 s \(its client stopped reading\)"/);
  } finally {
    fake.options.tokens = 5;
  }
}, 40_000);

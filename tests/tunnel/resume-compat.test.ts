// Resume between peers old and new (negotiated by the "resume" capability in HELLO/WELCOME), and a relay process that
// never lets one tunnel's agent claim another tunnel's answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { decodeMessage, encode } from "../../src/protocol/codec.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { CAPABILITIES, PROTOCOL_VERSION, type Frame, type Message } from "../../src/protocol/messages.ts";
import { AnswerResumes } from "../../src/protocol/resumable-answer.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { until } from "../helpers/until.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, relayToml, startRelayProc, type RelayProc } from "./helpers.ts";

/** What the previous release offered in HELLO and WELCOME. */
const PREVIOUS_CAPABILITIES = ["streaming", "flow-control", "cancel", "go-away", "batch"];
const BOB_TOKEN = "bob-agent-token-for-tests-012345";
const framesOf = (m: Message): Frame[] => (m.type === "BATCH" ? m.frames : [m]);
const enc = new TextEncoder();

/** A tunnel "bob" beside alice; resume_window as given. */
const toml = (window: string) => relayToml({ extra: `resume_window = "${window}"\n[[tunnels]]\nid = "bob"\nagent_token_sha256 = "${hashToken(BOB_TOKEN)}"\nclient_key_sha256 = []\n` });

/** An agent written against the wire: HELLO with `capabilities`; answers each request with a head and `lines` lines, no END. */
async function rawAgent(relayUrl: string, capabilities: string[], token = AGENT_TOKEN) {
  const frames: Frame[] = [];
  const ws = new WebSocket(`${relayUrl.replace(/^http/, "ws")}/agent`, { headers: { Authorization: `Bearer ${token}` } } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  let welcome: string[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.onclose = (e) => (closed = { code: e.code, reason: e.reason });
  const welcomed = new Promise<void>((resolve, reject) => {
    ws.onerror = () => reject(new Error("the raw agent's socket failed"));
    ws.onmessage = (e) => {
      const m = decodeMessage(new Uint8Array(e.data as ArrayBuffer));
      if (m.type === "WELCOME") {
        welcome = m.body.capabilities;
        return resolve();
      }
      for (const f of framesOf(m)) {
        frames.push(f);
        if (f.type === "PING") ws.send(encode({ type: "PONG", stream: 0, opaque: f.opaque }) as Uint8Array<ArrayBuffer>);
        if (f.type === "REQUEST_HEAD") {
          // A resume header of its own making (the relay's hop header): it must never reach anyone.
          const headers: [string, string][] = [["content-type", "application/x-ndjson"], ["x-c2l-resume", "q2Vv8k3xR0a9bL1cD4eF5g"], ["x-c2l-resume-window", "1"]];
          ws.send(encode({ type: "RESPONSE_HEAD", stream: f.stream, body: { status: 200, headers } }) as Uint8Array<ArrayBuffer>);
          ws.send(encode({ type: "DATA", stream: f.stream, data: enc.encode('{"response":"tok0 ","done":false}\n') }) as Uint8Array<ArrayBuffer>);
        }
      }
    };
  });
  await new Promise((r) => (ws.onopen = r));
  ws.send(encode({ type: "HELLO", stream: 0, body: { version: PROTOCOL_VERSION, capabilities, agent: "raw/1" } }) as Uint8Array<ArrayBuffer>);
  await welcomed;
  return {
    frames,
    welcome: () => welcome,
    closed: () => closed,
    send: (f: Frame) => ws.send(encode(f) as Uint8Array<ArrayBuffer>),
    close: () => ws.close(),
  };
}

const generate = (relay: RelayProc) =>
  fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", body: "{}", headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" } });

let relay: RelayProc;
beforeAll(async () => {
  relay = await startRelayProc(toml("20s"));
});
afterAll(async () => {
  await relay?.stop();
  cleanup(relay?.dir);
});

describe("the relay with agents old and new", () => {
  test("an agent of the previous release (no resume capability): its answer ends with the error line as soon as it is gone, not after the window", async () => {
    const agent = await rawAgent(relay.url, PREVIOUS_CAPABILITIES);
    expect(agent.welcome()).toContain("resume");
    const res = await generate(relay);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-c2l-resume")).toBeNull();
    expect(res.headers.get("x-c2l-resume-window")).toBeNull();
    const t0 = performance.now();
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    agent.close();
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    // Long before the relay's 20 s window: nothing was offered, so nothing is waited for.
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(JSON.parse(text.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(/^tunnel "alice" disconnected in the middle of the answer/) });
    expect(agent.frames.some((f) => f.type === "RESUMED")).toBe(false);
  });

  test("a RESUME from an agent that did not list resume is a protocol error that closes its connection", async () => {
    await Bun.sleep(100);
    const agent = await rawAgent(relay.url, PREVIOUS_CAPABILITIES);
    agent.send({ type: "RESUME", stream: 0, body: { token: "q2Vv8k3xR0a9bL1cD4eF5g" } });
    await until(() => agent.closed(), 5_000, "the relay to close the connection");
    expect(agent.closed()).toMatchObject({ code: 1002, reason: expect.stringMatching(/^protocol_error: unexpected_frame/) });
  });

  test("a relay with resume_window = 0s does not offer resume in WELCOME", async () => {
    const off = await startRelayProc(toml("0s"));
    try {
      const agent = await rawAgent(off.url, CAPABILITIES);
      expect(agent.welcome()).not.toContain("resume");
      expect(agent.welcome()).toContain("batch");
      agent.close();
    } finally {
      await off.stop();
      cleanup(off.dir);
    }
  });

  test("an agent of another tunnel that offers this tunnel's token gets nothing; this tunnel's agent resumes it", async () => {
    await Bun.sleep(100);
    const resumes = new AnswerResumes();
    let upstreamCancelled = false;
    const handler = async () => {
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (i >= 30) return c.close();
          await Bun.sleep(20);
          c.enqueue(enc.encode(`tok${i++} `));
        },
        cancel: () => void (upstreamCancelled = true),
      });
      return new Response(body, { headers: { "content-type": "text/plain" } });
    };
    const opts = {
      url: `${relay.url.replace(/^http/, "ws")}/agent`,
      token: AGENT_TOKEN,
      agent: "cloudtolocalllm-tunnel/test",
      heartbeatMs: 10_000,
      toleranceMs: 30_000,
      maxStreams: 8,
      resume: resumes,
      onStream: (s: import("../../src/protocol/stream.ts").Stream, r?: AnswerResumes) => void serveStream(s, handler, { resume: r }),
    };
    let conn: Connection | null = await connect(opts);
    let bob: Awaited<ReturnType<typeof rawAgent>> | null = null;
    try {
      const res = await generate(relay);
      const reader = res.body!.getReader();
      let text = new TextDecoder().decode((await reader.read()).value);
      const [token] = resumes.tokens();
      expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
      // Lost, not closed on purpose (an agent that closes on purpose does not come back for its answers): the agent's
      // side sees its transport end; the relay notices the silence after its tolerance (1.2 s).
      conn.session!.transportClosed("cut by the test");
      conn = null;
      // bob's agent (valid for bob, speaking resume) offers alice's token.
      bob = await rawAgent(relay.url, CAPABILITIES, BOB_TOKEN);
      bob.send({ type: "RESUME", stream: 0, body: { token: token! } });
      await Bun.sleep(1_500);
      expect(bob.frames.filter((f) => f.type === "RESUMED")).toEqual([]);
      expect(bob.closed()).toBeNull();
      // alice's agent is back: the relay takes the answer over and the client gets the rest.
      conn = await connect(opts);
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      expect(text).toBe(Array.from({ length: 30 }, (_, i) => `tok${i} `).join(""));
      expect(upstreamCancelled).toBe(false);
      // Forgotten once the relay's PONG to the fence behind its END comes back (a round trip after the END).
      await until(() => resumes.size === 0 || null, 2_000, "the agent to forget the answer");
      // The token is a credential for this answer: never in the relay's log.
      expect(relay.stderr() + relay.stdout()).not.toContain(token!);
    } finally {
      bob?.close();
      conn?.close("test over");
    }
  });
});

describe("the agent with relays old and new", () => {
  /** A relay written against the wire: WELCOME with `capabilities`, then one request; records what the agent sends, can drop the connection. */
  async function rawRelay(capabilities: string[]) {
    const fromAgent: Frame[] = [];
    let socket: ServerWebSocket<unknown> | null = null;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
      websocket: {
        message(ws: ServerWebSocket<unknown>, msg) {
          const m = decodeMessage(msg as Uint8Array);
          if (m.type === "HELLO") {
            socket = ws;
            ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities, tunnelId: TUNNEL_ID } }));
            ws.send(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/api/tags", headers: [] } }));
            ws.send(encode({ type: "END", stream: 1 }));
            return;
          }
          fromAgent.push(...framesOf(m));
        },
      },
    });
    return { url: `ws://127.0.0.1:${server.port}/agent`, fromAgent, drop: () => socket?.terminate(), stop: () => server.stop(true) };
  }

  for (const [name, caps, resumable] of [
    ["a relay of the previous release (no resume in WELCOME) gets no token and no RESUME; a lost connection cancels the upstream at once", PREVIOUS_CAPABILITIES, false],
    ["a current relay gets the answer's resume token, and a lost connection leaves the answer held", CAPABILITIES, true],
  ] as const) {
    test(name, async () => {
      const relay = await rawRelay([...caps]);
      const resumes = new AnswerResumes();
      let cancelled = false;
      const conn = await connect({
        url: relay.url,
        token: AGENT_TOKEN,
        agent: "cloudtolocalllm-tunnel/test",
        heartbeatMs: 10_000,
        toleranceMs: 30_000,
        maxStreams: 8,
        resume: resumes,
        onStream: (s, r) =>
          void serveStream(
            s,
            async () =>
              new Response(
                new ReadableStream({
                  pull: async (c) => {
                    await Bun.sleep(20);
                    c.enqueue(enc.encode("x"));
                  },
                  cancel: () => void (cancelled = true),
                }),
              ),
            { resume: r },
          ),
      });
      try {
        await until(() => relay.fromAgent.some((f) => f.type === "DATA") || null, 5_000, "the answer's first bytes");
        const head = relay.fromAgent.find((f) => f.type === "RESPONSE_HEAD") as Extract<Frame, { type: "RESPONSE_HEAD" }>;
        expect(head.body.resume !== undefined).toBe(resumable);
        relay.drop();
        await conn.closed;
        await Bun.sleep(200);
        expect(cancelled).toBe(!resumable);
        expect(resumes.size).toBe(resumable ? 1 : 0);
        expect(relay.fromAgent.some((f) => f.type === "RESUME")).toBe(false);
      } finally {
        conn.close("test over");
        relay.stop();
      }
    });
  }

  const TOKEN = "q2Vv8k3xR0a9bL1cD4eF5g";
  for (const [what, frame] of [
    ["RESUMED", encode({ type: "RESUMED", stream: 1, body: { token: TOKEN, offset: 0 } })],
    ["RESUME_REFUSED", encode({ type: "RESUME_REFUSED", stream: 0, body: { token: TOKEN, reason: "no client waits" } })],
  ] as const) {
    test(`a ${what} from a relay that did not list resume (to an agent that did) is unexpected_frame: the agent closes that connection`, async () => {
      const closes: { code: number; reason: string }[] = [];
      const server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
        websocket: {
          message(ws: ServerWebSocket<unknown>, msg) {
            if (decodeMessage(msg as Uint8Array).type !== "HELLO") return;
            ws.send(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: PREVIOUS_CAPABILITIES, tunnelId: TUNNEL_ID } }));
            ws.send(frame);
          },
          close: (_ws, code, reason) => void closes.push({ code, reason }),
        },
      });
      const conn = await connect({
        url: `ws://127.0.0.1:${server.port}/agent`,
        token: AGENT_TOKEN,
        agent: "cloudtolocalllm-tunnel/test",
        heartbeatMs: 10_000,
        toleranceMs: 30_000,
        maxStreams: 8,
        resume: new AnswerResumes(),
        onStream: () => {},
      });
      try {
        const info = await conn.closed;
        expect(info.code).toBe("protocol_error");
        expect(info.reason).toStartWith(`unexpected_frame: ${what} without the resume capability`);
        await until(() => closes.length > 0 || null, 5_000, "the relay to see the close");
        expect(closes[0]!.code).toBe(4000);
        expect(closes[0]!.reason).toStartWith(`protocol_error: unexpected_frame: ${what}`);
      } finally {
        conn.close("test over");
        server.stop(true);
      }
    });
  }
});

// Two sessions over an in-memory pipe: streaming, 200 concurrent streams, credit flow control, heartbeats, go-away, cancel, BATCH.
import { describe, expect, test } from "bun:test";
import { ManualClock, type Clock } from "../core/clock.ts";
import { decodeMessage, encode } from "./codec.ts";
import { INITIAL_WINDOW } from "./messages.ts";
import { forward, serveStream } from "./http-over-stream.ts";
import { FLOOD_BASE, FLOOD_PER_EARLY_RESET, FLOOD_PER_HEAD, FLOOD_PER_SECOND, Session, UNREAD_CAP, type SessionCloseInfo } from "./session.ts";
import { Stream, StreamError } from "./stream.ts";

interface Pair {
  relay: Session;
  agent: Session;
  closes: { relay?: SessionCloseInfo; agent?: SessionCloseInfo; wsCodes: number[] };
  /** Stop delivering in both directions (a half-open connection). */
  blackhole(): void;
  agentStreams: Stream[];
  /** Every WebSocket message each side sent, as sent. */
  sent: { relay: Uint8Array[]; agent: Uint8Array[] };
}

function pair(
  handler: (req: Request, s: Stream) => Promise<Response>,
  opts: { clock?: Clock; heartbeatMs?: number; toleranceMs?: number; maxStreams?: number; batch?: boolean; window?: number; stallMs?: number; onStall?: (reason: string) => void } = {},
): Pair {
  const sent: Pair["sent"] = { relay: [], agent: [] };
  let dead = false;
  const closes: Pair["closes"] = { wsCodes: [] };
  const agentStreams: Stream[] = [];
  let relay!: Session;
  let agent!: Session;
  // Deliver asynchronously, in order, like a socket.
  const deliver = (to: () => Session, bytes: Uint8Array) => {
    if (dead) return;
    queueMicrotask(() => !dead && to().receive(bytes));
  };
  const closeBoth = (code: number, other: () => Session, reason: string) => {
    closes.wsCodes.push(code);
    if (!dead) queueMicrotask(() => other().transportClosed(reason));
  };
  relay = new Session({
    role: "relay",
    clock: opts.clock,
    heartbeatMs: opts.heartbeatMs,
    toleranceMs: opts.toleranceMs,
    batch: opts.batch,
    window: opts.window,
    sink: { send: (b) => (sent.relay.push(b), deliver(() => agent, b)), close: (c, r) => closeBoth(c, () => agent, r) },
    onClose: (i) => (closes.relay = i),
  });
  agent = new Session({
    role: "agent",
    clock: opts.clock,
    heartbeatMs: opts.heartbeatMs,
    toleranceMs: opts.toleranceMs,
    maxStreams: opts.maxStreams,
    stallMs: opts.stallMs,
    onStall: opts.onStall,
    batch: opts.batch,
    window: opts.window,
    sink: { send: (b) => (sent.agent.push(b), deliver(() => relay, b)), close: (c, r) => closeBoth(c, () => relay, r) },
    onStream: (s) => {
      agentStreams.push(s);
      void serveStream(s, handler);
    },
    onClose: (i) => (closes.agent = i),
  });
  return { relay, agent, closes, blackhole: () => (dead = true), agentStreams, sent };
}

const echo = async (req: Request) => new Response(req.body, { status: 200, headers: { "x-path": new URL(req.url).pathname } });
const post = (body: BodyInit | null, method = "POST") => new Request("http://relay/x", { method, body, duplex: "half" } as RequestInit);

function byteStream(total: number, chunk = 65536, onPull?: (sent: number) => void): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(chunk, total - sent);
      c.enqueue(new Uint8Array(n).fill(sent % 251));
      sent += n;
      onPull?.(sent);
    },
  });
}

describe("session", () => {
  test("a request streams through and the response streams back", async () => {
    const p = pair(async (req) => {
      const text = await req.text();
      const body = new ReadableStream({
        async start(c) {
          for (const w of text.split(" ")) {
            c.enqueue(new TextEncoder().encode(w + "\n"));
            await Bun.sleep(1);
          }
          c.close();
        },
      });
      return new Response(body, { status: 201, headers: { "content-type": "application/x-ndjson", "x-seen-method": req.method } });
    });
    const res = await forward(p.relay, post("a b c"), "/api/chat");
    expect(res.status).toBe(201);
    expect(res.headers.get("x-seen-method")).toBe("POST");
    expect(await res.text()).toBe("a\nb\nc\n");
    await Bun.sleep(5);
    expect(p.relay.activeStreams).toBe(0);
    expect(p.agent.activeStreams).toBe(0);
  });

  test("200 concurrent streams arrive complete and in order", async () => {
    const p = pair(echo, { maxStreams: 256 });
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const chunks = Array.from({ length: 20 }, (_, k) => `${i}:${k};`);
        const body = new ReadableStream({
          async pull(c) {
            const next = chunks.shift();
            if (next === undefined) return c.close();
            c.enqueue(new TextEncoder().encode(next));
            if (Math.random() < 0.3) await Bun.sleep(0);
          },
        });
        const res = await forward(p.relay, post(body), `/s/${i}`);
        return { i, path: res.headers.get("x-path"), text: await res.text() };
      }),
    );
    for (const r of results) {
      expect(r.path).toBe(`/s/${r.i}`);
      expect(r.text).toBe(Array.from({ length: 20 }, (_, k) => `${r.i}:${k};`).join(""));
    }
  });

  test("a stalled reader holds at most one window and does not slow another stream", async () => {
    const p = pair(async () => new Response(byteStream(50 * 1024 * 1024)));
    const stalled = await forward(p.relay, post(null, "GET"), "/big");
    // Never read `stalled`; the agent may only send one window ahead.
    const t0 = performance.now();
    const other = await forward(p.relay, post(null, "GET"), "/other");
    let n = 0;
    for await (const c of other.body!) {
      n += c.length;
      if (n >= 4 * 1024 * 1024) break;
    }
    expect(n).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(performance.now() - t0).toBeLessThan(10_000);
    await Bun.sleep(20);
    const agentSide = p.agentStreams[0]!;
    expect(agentSide.bytesOut).toBeLessThanOrEqual(INITIAL_WINDOW);
    await stalled.body!.cancel();
  });

  test("a huge upload is paced by credit: the receiver never buffers more than its window", async () => {
    let maxBuffered = 0;
    const p = pair(async (req, s) => {
      let total = 0;
      for await (const c of req.body!) {
        total += c.length;
        maxBuffered = Math.max(maxBuffered, s.buffered);
        if (total % (1 << 20) < c.length) await Bun.sleep(1); // a slow consumer
      }
      return new Response(String(total));
    });
    const res = await forward(p.relay, post(byteStream(16 * 1024 * 1024)), "/upload");
    expect(await res.text()).toBe(String(16 * 1024 * 1024));
    expect(maxBuffered).toBeLessThanOrEqual(INITIAL_WINDOW);
  });

  test("the relay cancelling a stream aborts the agent's handler", async () => {
    let aborted: Promise<void> | null = null;
    const p = pair(async (req) => {
      aborted = new Promise((r) => req.signal.addEventListener("abort", () => r()));
      return new Response(byteStream(1 << 30, 1024));
    });
    const ac = new AbortController();
    const res = await forward(p.relay, post(null, "GET"), "/gen", { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await aborted;
    await Bun.sleep(5);
    expect(p.agent.activeStreams).toBe(0);
    expect(p.relay.activeStreams).toBe(0);
  });

  test("more streams than the agent allows are refused, not queued", async () => {
    const gate = Promise.withResolvers<void>();
    const p = pair(async () => (await gate.promise, new Response("ok")), { maxStreams: 2 });
    const a = forward(p.relay, post(null, "GET"), "/1");
    const b = forward(p.relay, post(null, "GET"), "/2");
    // Refused at once: a third stream let in would wait on the gate, so it is raced against a timer (not awaited alone,
    // which would hang the file rather than fail this test).
    let timer: Timer | undefined;
    const queued = new Promise<string>((res) => (timer = setTimeout(() => res("no answer in 2 s: queued or let in"), 2_000)));
    const third = forward(p.relay, post(null, "GET"), "/3").then(() => "served", (e: unknown) => String(e));
    expect(await Promise.race([third, queued])).toMatch(/too many streams/);
    clearTimeout(timer);
    gate.resolve();
    expect(await (await a).text()).toBe("ok");
    expect(await (await b).text()).toBe("ok");
  });

  test("go-away lets in-flight streams finish and refuses new ones", async () => {
    const gate = Promise.withResolvers<void>();
    const p = pair(async () => (await gate.promise, new Response("done")));
    const inflight = forward(p.relay, post(null, "GET"), "/slow");
    await Bun.sleep(5);
    const drained = p.relay.goAway("restarting", 5_000);
    expect(() => p.relay.open({ method: "GET", path: "/new", headers: [] })).toThrow(/going away/);
    gate.resolve();
    expect(await (await inflight).text()).toBe("done");
    await drained;
    expect(p.closes.relay?.code).toBe("normal");
  });

  test("go-away grace period ends streams that do not finish", async () => {
    const clock = new ManualClock();
    const p = pair(async () => new Response(new ReadableStream({ pull: () => new Promise(() => {}) })), { clock });
    const res = await forward(p.relay, post(null, "GET"), "/forever");
    const drained = p.relay.goAway("restarting", 1_000);
    clock.advance(1_001);
    await drained;
    await expect(res.text()).rejects.toThrow(/closed/);
  });

  test("heartbeats keep a quiet session alive and a silent peer is noticed within the tolerance", async () => {
    const clock = new ManualClock();
    const p = pair(echo, { clock, heartbeatMs: 1_000, toleranceMs: 3_000 });
    for (let i = 0; i < 20; i++) {
      clock.advance(250);
      await Bun.sleep(0);
    }
    expect(p.closes.relay).toBeUndefined();
    expect(p.relay.rttMs).not.toBeNull();
    p.blackhole();
    let waited = 0;
    while (!p.closes.relay && waited < 10_000) {
      clock.advance(250);
      waited += 250;
    }
    expect(p.closes.relay?.code).toBe("heartbeat_timeout");
    expect(waited).toBeLessThanOrEqual(3_000 + 1_000);
    expect(waited).toBeGreaterThanOrEqual(2_000);
  });

  /** A manual clock whose wall time can be set apart from its monotonic time (a clock set back, a laptop's sleep). */
  class WallClock extends ManualClock {
    offset = 0;
    override now(): number {
      return super.now() + this.offset;
    }
    override monotonic(): number {
      return super.now();
    }
  }

  test("a wall clock set back an hour (NTP, a user) neither silences the heartbeat nor hides a dead peer", async () => {
    const clock = new WallClock();
    const p = pair(echo, { clock, heartbeatMs: 1_000, toleranceMs: 3_000 });
    clock.advance(500);
    await Bun.sleep(0);
    clock.offset = -3_600_000;
    const pings = () => p.sent.relay.filter((b) => b[0] === 0x20).length;
    const before = pings();
    for (let i = 0; i < 20; i++) {
      clock.advance(250);
      await Bun.sleep(0);
    }
    // Still pinging (the peer, whose clock was not set back, would otherwise declare this side dead), still alive.
    expect(pings()).toBeGreaterThan(before);
    expect(p.closes.relay).toBeUndefined();
    p.blackhole();
    let waited = 0;
    while (!p.closes.relay && waited < 10_000) {
      clock.advance(250);
      waited += 250;
    }
    expect(p.closes.relay?.code).toBe("heartbeat_timeout");
    expect(waited).toBeLessThanOrEqual(3_000 + 1_000);
  });

  test("a laptop's sleep, which the monotonic clock may not count, is seen on the wall clock: a silent peer is noticed at the first tick after waking", async () => {
    const clock = new WallClock();
    const p = pair(echo, { clock, heartbeatMs: 1_000, toleranceMs: 3_000 });
    clock.advance(500);
    await Bun.sleep(0);
    p.blackhole();
    // Ten minutes asleep: the wall clock moved, the monotonic one did not, no timer fired.
    clock.offset = 600_000;
    clock.advance(750);
    expect(p.closes.relay?.code).toBe("heartbeat_timeout");
    expect(p.closes.relay?.reason).toMatch(/no frame from the peer for 60\d{4} ms/);
  });

  /** The relay's open stream to a handler that never answers, and the error it fails with. */
  async function waitingStream(p: Pair): Promise<{ failed: Promise<StreamError> }> {
    const s = p.relay.open({ method: "GET", path: "/forever", headers: [] });
    s.end();
    const failed = new Promise<StreamError>((r) => s.onFailure(r));
    await Bun.sleep(0);
    return { failed };
  }

  test("a loss noticed in time carries no lateness; one noticed only after this side was frozen says how late it is, also when the peer's last frames were read on waking", async () => {
    const clock = new ManualClock();
    const p = pair(async () => new Response(new ReadableStream({ pull: () => new Promise(() => {}) })), { clock, heartbeatMs: 1_000, toleranceMs: 3_000 });
    const inTime = await waitingStream(p);
    p.blackhole();
    for (let waited = 0; !p.closes.relay && waited < 10_000; waited += 250) clock.advance(250);
    expect(p.closes.relay?.code).toBe("heartbeat_timeout");
    expect((await inTime.failed).lateMs).toBe(0);


    // Frozen for 10 s (no timer ran): the peer, which heard nothing for its tolerance, gave the session up 7 s ago. On
    // waking, its frames still in the socket are read first (they are fresh), then its close.
    const q = pair(async () => new Response(new ReadableStream({ pull: () => new Promise(() => {}) })), { clock, heartbeatMs: 1_000, toleranceMs: 3_000 });
    const frozen = await waitingStream(q);
    q.blackhole();
    clock.jumpWall(10_000);
    q.relay.receive(encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }));
    q.relay.transportClosed("websocket closed (4004: heartbeat_timeout)");
    const e = await frozen.failed;
    expect(e.code).toBe("session_closed");
    expect(e.lateMs).toBeGreaterThanOrEqual(10_000 - 3_000 - 750);
    expect(e.lateMs).toBeLessThanOrEqual(10_000 - 3_000);
  });

  test("a malformed frame closes the session with a protocol error and fails its streams", async () => {
    const gate = Promise.withResolvers<void>();
    const p = pair(async () => (await gate.promise, new Response("x")));
    const inflight = forward(p.relay, post(null, "GET"), "/x");
    await Bun.sleep(2);
    p.agent.receive(new Uint8Array([0x7f, 0, 0, 0, 0, 1]));
    await expect(inflight).rejects.toThrow(/closed/);
    expect(p.closes.agent?.code).toBe("protocol_error");
    expect(p.closes.wsCodes).toContain(1002);
    gate.resolve();
  });

  test("DATA beyond the granted window is a flow-control violation", async () => {
    const p = pair(async (req) => new Response(req.body));
    p.relay.open({ method: "POST", path: "/x", headers: [] });
    await Bun.sleep(1);
    p.agent.receive(encode({ type: "DATA", stream: 1, data: new Uint8Array(INITIAL_WINDOW) }));
    p.agent.receive(encode({ type: "DATA", stream: 1, data: new Uint8Array(1) }));
    expect(p.closes.agent?.code).toBe("protocol_error");
    expect(p.closes.agent?.reason).toMatch(/flow_control/);
  });
});

test("a relay that floods PINGs, refused streams or RESUMEDs for unknown answers but reads nothing is dropped once UNREAD_CAP bytes wait unsent: no PONG or RESET piles up behind them", () => {
  for (const flood of ["PING", "REQUEST_HEAD", "RESUMED"] as const) {
    let unread = 0;
    const sent: Uint8Array[] = [];
    const closes: number[] = [];
    const ended: { info?: SessionCloseInfo } = {};
    // Sent no faster than the budget of frames that carry nothing allows (a tick's worth at a time), or that ends it first.
    const clock = new ManualClock();
    const agent = new Session({
      role: "agent",
      clock,
      heartbeatMs: 1_000,
      toleranceMs: 60_000,
      maxStreams: 1,
      sink: { send: (b) => (sent.push(b), (unread += b.length)), backlog: () => unread, close: (c) => closes.push(c) },
      onStream: () => {},
      onClose: (i) => (ended.info = i),
      // The agent's registry refuses a token it does not hold with a RESET (resumable-answer.ts).
      onResumed: (id) => (agent.sendFrame({ type: "RESET", stream: id, body: { code: "refused", reason: "no answer is held under this token from this offset" } }), false),
    });
    const frame = (i: number) =>
      flood === "PING"
        ? encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) })
        : flood === "RESUMED"
          ? encode({ type: "RESUMED", stream: 2 * i + 1, body: { token: "q2Vv8k3xR0a9bL1cD4eF5g", offset: 0 } })
          : encode({ type: "REQUEST_HEAD", stream: 2 * i + 1, body: { method: "GET", path: "/api/tags", headers: [] } });
    // Far more than the cap's worth of answers: each PING asks for a PONG, each stream past max_streams for a RESET.
    for (let i = 0; i < 400_000 && !ended.info; i++) {
      agent.receive(frame(i));
      if (i % FLOOD_BASE === FLOOD_BASE - 1) clock.advance(1_000);
    }
    expect({ flood, code: ended.info?.code, ws: closes }).toEqual({ flood, code: "heartbeat_timeout", ws: [4004] });
    expect(ended.info?.reason).toMatch(/^the relay stopped reading: \d+ bytes sent to it are unread$/);
    expect(unread).toBeLessThan(UNREAD_CAP + 64 * 1024);
    agent.close("normal", "test over");
  }
});

describe("streams the relay leaves waiting (stall_timeout)", () => {
  /** Moves the clock on by `ms` in heartbeat ticks, letting the frames of each tick cross. */
  async function wait(clock: ManualClock, ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 250) {
      clock.advance(250);
      await Bun.sleep(0);
    }
  }

  test("a request whose body stops coming, or whose answer gets no credit, is reset (timeout) with a reason once stall_timeout passed; a slow but moving body and a slow handler are not", async () => {
    const clock = new ManualClock();
    const stalls: string[] = [];
    const seen: string[] = [];
    const answerFor = "";
    // The model takes long to answer (loading): the relay is not what the stream waits on.
    const slowAnswer = Promise.withResolvers<void>();
    const p = pair(
      async (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/slow-handler") return (await slowAnswer.promise, new Response("late"));
        if (path === "/answer") return new Response(byteStream(4 * INITIAL_WINDOW));
        try {
          await req.text();
          seen.push(`${path}: whole`);
        } catch (e) {
          seen.push(`${path}: ${(e as Error).message}`);
        }
        return new Response(answerFor);
      },
      { clock, heartbeatMs: 1_000, toleranceMs: 60_000, stallMs: 5_000, onStall: (r) => stalls.push(r) },
    );
    // A head, some of its body, then nothing: before, the stream and the handler waited for good.
    const stalled = p.relay.open({ method: "POST", path: "/stalled", headers: [] });
    void stalled.write(new TextEncoder().encode("{\"model\""));
    // A body that trickles: a byte every 4 s.
    const trickle = p.relay.open({ method: "POST", path: "/trickle", headers: [] });
    // An answer the relay never reads: past its first window, no credit comes.
    const unread = p.relay.open({ method: "GET", path: "/answer", headers: [] });
    unread.end();
    const slow = p.relay.open({ method: "GET", path: "/slow-handler", headers: [] });
    slow.end();
    for (let i = 0; i < 3; i++) {
      await wait(clock, 4_000);
      await trickle.write(new Uint8Array([120]));
    }
    trickle.end();
    await wait(clock, 1_000);
    slowAnswer.resolve();
    const why = (s: Stream) => s.failure && { code: s.failure.code, message: s.failure.message, byPeer: s.failure.byPeer };
    expect(why(stalled)).toEqual({ code: "timeout", message: "the relay sent nothing more of the request for 5 s", byPeer: true });
    expect(why(unread)).toEqual({ code: "timeout", message: "the relay gave the answer no credit for 5 s (its client stopped reading)", byPeer: true });
    expect(seen).toContain("/stalled: the relay sent nothing more of the request for 5 s");
    expect(seen).toContain("/trickle: whole");
    expect(trickle.failure).toBeNull();
    expect(await new Response(slow.readable).text()).toBe("late");
    expect(stalls.sort()).toEqual(["the relay gave the answer no credit for 5 s (its client stopped reading)", "the relay sent nothing more of the request for 5 s"]);
    expect(p.agent.activeStreams).toBe(0);
    expect(p.closes.agent).toBeUndefined();
  });

  test("without stallMs (the relay's side, or stall_timeout = 0) nothing is reset", async () => {
    const clock = new ManualClock();
    const p = pair(async (req) => new Response(await req.text()), { clock, heartbeatMs: 1_000, toleranceMs: 600_000 });
    const s = p.relay.open({ method: "POST", path: "/x", headers: [] });
    await wait(clock, 120_000);
    expect(s.failure).toBeNull();
    expect(p.agent.activeStreams).toBe(1);
    s.end();
    expect(await new Response(s.readable).text()).toBe("");
  });
});

test("an agent's stream joins a run of 1-byte DATA frames into one buffer its reader takes once a turn: the first 16 are read as they come, the rest as one chunk, every byte in order", async () => {
  const sent: number[] = [];
  const s = new Stream(1, { sendFrame: (f) => f.type === "WINDOW_UPDATE" && sent.push(f.increment), release: () => {} }, INITIAL_WINDOW);
  s.coalesceSmall = true;
  const chunks: number[] = [];
  const read = (async () => {
    const bytes: number[] = [];
    for (let c = await s.next(); c; c = await s.next()) chunks.push(c.length), bytes.push(...c);
    return bytes;
  })();
  const n = 100_000;
  // In one turn, as Bun's WebSocket client hands over a read's messages (promise jobs run between them).
  for (let i = 0; i < n; i++) {
    expect(s.onData(new Uint8Array([i & 0xff]))).toBe(true);
    await null;
  }
  expect(s.bufferedChunks).toBeLessThanOrEqual(Math.ceil(n / (16 * 1024)) + 1);
  s.onEnd();
  const bytes = await read;
  expect(bytes.length).toBe(n);
  expect(bytes.every((b, i) => b === (i & 0xff))).toBe(true);
  // Before, 100,000 chunks (one promise chain and one pinned message each); a small body is one frame, read at once.
  expect(chunks.length).toBeLessThan(16 + 10);
  expect(chunks.slice(0, 16)).toEqual(Array(16).fill(1));
  // A large frame after a run keeps its place behind it.
  const t = new Stream(3, { sendFrame: () => {}, release: () => {} }, INITIAL_WINDOW);
  t.coalesceSmall = true;
  for (let i = 0; i < 40; i++) t.onData(new Uint8Array([1]));
  t.onData(new Uint8Array(2048).fill(2));
  t.onData(new Uint8Array([3]));
  t.onEnd();
  const whole = t.takeWhole()!;
  expect([whole.length, whole[39], whole[40], whole[2087], whole[2088]]).toEqual([2089, 1, 2, 2, 3]);
});

test("a flood of 1-byte DATA frames is folded into few buffers, every byte still read in order", async () => {
  const s = new Stream(1, { sendFrame: () => {}, release: () => {} }, INITIAL_WINDOW);
  const n = 5000;
  for (let i = 0; i < n; i++) expect(s.onData(new Uint8Array([i & 0xff]))).toBe(true);
  s.onEnd();
  expect(s.buffered).toBe(n);
  expect(s.bufferedChunks).toBeLessThanOrEqual(1025);
  const got = new Uint8Array(await new Response(s.readable).arrayBuffer());
  expect(got.length).toBe(n);
  expect(got.every((b, i) => b === (i & 0xff))).toBe(true);
});

describe("bodies held to their declared length", () => {
  // The relay is not trusted: a body longer or shorter than it declared never reaches the handler, whether it is small
  // enough to be read whole (SMALL_BODY_BYTES) or streamed.
  // With BATCH, a small body arrives with its head and END in one message and is taken whole (Stream.takeWhole()).
  for (const [declared, sent, batch] of [
    [4, 6, false],
    [4, 2, false],
    [70_000, 70_100, false],
    [70_000, 69_000, false],
    [4, 6, true],
    [4, 2, true],
  ] as const) {
    test(`declared ${declared}, sent ${sent}${batch ? ", one BATCH" : ""}: the stream fails and the handler sees no body`, async () => {
      const seen: number[] = [];
      const p = pair(
        async (req) => {
          seen.push((await req.bytes()).length);
          return new Response("ok");
        },
        { batch },
      );
      const s = p.relay.open({ method: "POST", path: "/x", headers: [["content-length", String(declared)]] });
      await s.write(new Uint8Array(sent).fill(1));
      s.end();
      await expect(s.responseHead).rejects.toThrow(/declared/);
      expect(seen).toEqual([]);
    });
  }

  test("a head with Content-Length twice, or not a plain number, or a small body off its length, is RESET refused (a bad request from the relay), never internal", async () => {
    for (const [headers, sent] of [
      [[["content-length", "2"], ["content-length", "2"]], 2],
      [[["content-length", "2"], ["Content-Length", "3"]], 2],
      [[["content-length", "+2"]], 2],
      [[["content-length", "4"]], 2],
      [[["content-length", "4"]], 6],
    ] as [[string, string][], number][]) {
      const seen: number[] = [];
      const p = pair(async (req) => {
        seen.push((await req.bytes()).length);
        return new Response("ok");
      });
      const s = p.relay.open({ method: "POST", path: "/x", headers });
      await s.write(new Uint8Array(sent).fill(1));
      s.end();
      const err = await s.responseHead.then(() => null, (e: unknown) => e);
      expect({ headers, sent, code: err instanceof StreamError ? err.code : err }).toEqual({ headers, sent, code: "refused" });
      expect(seen).toEqual([]);
    }
  });

  test("a small sized body crosses whole, a large one streams, both exact", async () => {
    const p = pair(async (req) => new Response(String((await req.bytes()).length), { headers: { "x-len": req.headers.get("content-length") ?? "" } }));
    for (const n of [0, 1, 65_536, 65_537, 300_000]) {
      const req = new Request("http://relay/x", { method: "POST", body: new Uint8Array(n).fill(3), headers: { "content-length": String(n) } });
      const res = await forward(p.relay, req, "/x");
      expect(await res.text()).toBe(String(n));
      expect(res.headers.get("x-len")).toBe(String(n));
    }
  });
});

describe("BATCH (peers that both list the batch capability)", () => {
  const BATCH = 0x30;
  const framesIn = (messages: Uint8Array[]) => messages.flatMap((m) => {
    const d = decodeMessage(m);
    return d.type === "BATCH" ? d.frames.map((f) => f.type) : [d.type];
  });

  test("a small request and its answer each cross as one message, with the same frames as without batching", async () => {
    const handler = async (req: Request) => new Response(`got ${await req.text()}`, { headers: { "content-type": "text/plain" } });
    // A fixed window: no probe PINGs, so the frames are exactly the request's and the answer's.
    const batched = pair(handler, { batch: true, window: INITIAL_WINDOW });
    const plain = pair(handler, { window: INITIAL_WINDOW });
    for (const p of [batched, plain]) {
      const res = await forward(p.relay, new Request("http://relay/x", { method: "POST", body: "hi", headers: { "content-length": "2" } }), "/api/generate");
      expect(await res.text()).toBe("got hi");
    }
    await Bun.sleep(5);
    // Without batching: one message per frame, and never a BATCH.
    expect(framesIn(plain.sent.relay)).toEqual(["REQUEST_HEAD", "DATA", "END"]);
    expect(plain.sent.relay.length).toBe(3);
    expect([...plain.sent.relay, ...plain.sent.agent].some((m) => m[0] === BATCH)).toBe(false);
    // With it: the same frames in the same order, in one message each way.
    expect(framesIn(batched.sent.relay)).toEqual(["REQUEST_HEAD", "DATA", "END"]);
    expect(batched.sent.relay.length).toBe(1);
    expect(batched.sent.relay[0]![0]).toBe(BATCH);
    expect(framesIn(batched.sent.agent)).toEqual(framesIn(plain.sent.agent));
    expect(batched.sent.agent.length).toBeLessThan(plain.sent.agent.length);
  });

  test("200 concurrent streams arrive complete and in order through batched messages", async () => {
    const p = pair(echo, { maxStreams: 256, batch: true });
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await forward(p.relay, post(`${i}:`.repeat(50)), `/s/${i}`);
        return { i, path: res.headers.get("x-path"), text: await res.text() };
      }),
    );
    for (const r of results) {
      expect(r.path).toBe(`/s/${r.i}`);
      expect(r.text).toBe(`${r.i}:`.repeat(50));
    }
    expect(p.sent.relay.some((m) => m[0] === BATCH)).toBe(true);
    // Each BATCH stays within MAX_BATCH plus its header.
    for (const m of [...p.sent.relay, ...p.sent.agent]) if (m[0] === BATCH) expect(m.length).toBeLessThanOrEqual(6 + 64 * 1024);
  });

  test("big DATA frames travel alone, in order with the small frames queued before them", async () => {
    const p = pair(async () => new Response(byteStream(300 * 1024)), { batch: true, window: INITIAL_WINDOW });
    const res = await forward(p.relay, post(null, "GET"), "/big");
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.length).toBe(300 * 1024);
    expect(body[0]).toBe(0);
    expect(body[65536]).toBe(65536 % 251);
    const big = p.sent.agent.filter((m) => m.length > 16 * 1024);
    expect(big.length).toBeGreaterThanOrEqual(4);
    for (const m of big) expect(m[0]).not.toBe(BATCH);
    expect(framesIn(p.sent.agent)).toEqual(["RESPONSE_HEAD", "DATA", "DATA", "DATA", "DATA", "DATA", "END"]);
  });

  test("close() sends what is queued, then GO_AWAY, before the connection closes", async () => {
    const p = pair(echo, { batch: true });
    p.relay.open({ method: "GET", path: "/x", headers: [] });
    expect(p.sent.relay).toEqual([]);
    p.relay.close("normal", "bye");
    expect(framesIn(p.sent.relay)).toEqual(["REQUEST_HEAD", "GO_AWAY"]);
    expect(p.closes.wsCodes).toEqual([1000]);
  });

  test("a malformed frame inside a BATCH closes the session with protocol_error", async () => {
    const p = pair(echo);
    const bad = new Uint8Array([BATCH, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x13, 0, 0, 0]);
    p.agent.receive(bad);
    await Bun.sleep(1);
    expect(p.closes.agent?.code).toBe("protocol_error");
  });
});

describe("fence", () => {
  test("its PING follows the stream's queued DATA and END; the PONG resolves it, a session that ends first fails it", async () => {
    const out: Uint8Array[] = [];
    let backlog = 1 << 20;
    let stream!: Stream;
    const agent = new Session({ role: "agent", window: INITIAL_WINDOW, sink: { send: (b) => void out.push(b), backlog: () => backlog, close: () => {} }, onStream: (s) => (stream = s) });
    agent.receive(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/", headers: [] } }));
    agent.receive(encode({ type: "END", stream: 1 }));
    stream.respond({ status: 200, headers: [] });
    // The transport is backed up: the head leaves (urgent), the DATA waits in the stream's queue.
    await stream.write(new Uint8Array(10));
    await stream.write(new Uint8Array(20));
    stream.end();
    const fenced = agent.fence(1);
    const types = () => out.map((b) => decodeMessage(b).type);
    expect(types()).toEqual(["RESPONSE_HEAD"]);
    backlog = 0;
    agent.drained();
    // The two small writes waited together: they leave as one DATA frame (scheduler.ts, JOIN_SMALL).
    expect(types()).toEqual(["RESPONSE_HEAD", "DATA", "END", "PING"]);
    expect((decodeMessage(out[1]!) as { data: Uint8Array }).data.length).toBe(30);
    const ping = decodeMessage(out.at(-1)!) as { opaque: Uint8Array };
    let settled: unknown = "pending";
    void fenced.then((v) => (settled = v));
    await Bun.sleep(1);
    expect(settled).toBe("pending");
    agent.receive(encode({ type: "PONG", stream: 0, opaque: ping.opaque }));
    expect(await fenced).toBeNull();
    // A heartbeat's PONG (the clock) resolves nothing; the session's end fails what still waits.
    const second = agent.fence(1);
    agent.receive(encode({ type: "PONG", stream: 0, opaque: new Uint8Array(8) }));
    agent.transportClosed("gone");
    expect((await second)?.code).toBe("session_closed");
    expect((await agent.fence(1))?.code).toBe("session_closed");
  });

  test("a fence the relay never answers (it answers heartbeats) is given up with timeout once stallMs passed; one answered in time resolves", async () => {
    const clock = new ManualClock();
    const out: Uint8Array[] = [];
    const agent = new Session({ role: "agent", clock, heartbeatMs: 1_000, toleranceMs: 600_000, stallMs: 5_000, sink: { send: (b) => void out.push(b), close: () => {} }, onStream: () => {} });
    const settled: Record<string, unknown> = {};
    const watch = (name: string, p: Promise<StreamError | null>) => void p.then((v) => (settled[name] = v === null ? "acknowledged" : `${v.code}: ${v.message}`));
    watch("ignored", agent.fence(1));
    const answered = agent.fence(3);
    watch("answered", answered);
    const pings = () => out.map((b) => decodeMessage(b)).filter((f) => f.type === "PING") as { opaque: Uint8Array }[];
    // Its fence's PONG comes 3 s later (a slow link): in time. The other's never does.
    for (let t = 0; t < 3_000; t += 250) clock.advance(250);
    const fence3 = pings().find((p) => new DataView(p.opaque.buffer, p.opaque.byteOffset).getFloat64(0) === 2 ** 52 + 2)!;
    agent.receive(encode({ type: "PONG", stream: 0, opaque: fence3.opaque }));
    for (let t = 0; t < 8_000; t += 250) {
      clock.advance(250);
      agent.receive(encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }));
    }
    await Bun.sleep(0);
    // Before, the ignored fence (and the answer behind it) waited for the session's end, however long it lived.
    expect(settled).toEqual({ answered: "acknowledged", ignored: "timeout: the relay did not acknowledge the answer's end within 5000 ms" });
    expect(agent.closed).toBeNull();
    agent.close("normal", "test over");
  });
});

describe("a stream's initial window from its head (REQUEST_HEAD.window, the window capability)", () => {
  test("the agent grants and spends exactly the head's window: its answer waits for credit past it, and the relay's DATA past it is a flow_control error", async () => {
    const out: Uint8Array[] = [];
    const closes: number[] = [];
    let stream!: Stream;
    const agent = new Session({ role: "agent", sink: { send: (b) => out.push(b), close: (c) => closes.push(c) }, onStream: (s) => (stream = s) });
    agent.receive(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "POST", path: "/x", headers: [], window: 16_384 } }));
    expect(stream.requestHead?.window).toBe(16_384);
    // The answer: 16 KiB leave, the rest waits for the relay's WINDOW_UPDATE.
    const sent = stream.write(new Uint8Array(20_000));
    await Bun.sleep(5);
    const data = () => out.map((b) => decodeMessage(b)).filter((f) => f.type === "DATA").reduce((n, f) => n + (f.type === "DATA" ? f.data.length : 0), 0);
    expect(data()).toBe(16_384);
    agent.receive(encode({ type: "WINDOW_UPDATE", stream: 1, increment: 8_192 }));
    await sent;
    expect(data()).toBe(20_000);
    // The relay's side of the same stream: 16 KiB may come, one byte more may not.
    agent.receive(encode({ type: "DATA", stream: 1, data: new Uint8Array(16_384) }));
    expect(agent.closed).toBeNull();
    agent.receive(encode({ type: "DATA", stream: 1, data: new Uint8Array(1) }));
    expect(agent.closed?.code).toBe("protocol_error");
    agent.close("normal", "done");
  });

  test("a relay without the agent's window capability never names a window (an older agent keeps 512 KiB a stream)", () => {
    const out: Uint8Array[] = [];
    const relay = new Session({ role: "relay", sink: { send: (b) => out.push(b), close: () => {} } });
    relay.open({ method: "GET", path: "/x", headers: [] });
    relay.receive(encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }));
    const head = out.map((b) => decodeMessage(b)).find((f) => f.type === "REQUEST_HEAD");
    expect(head?.type === "REQUEST_HEAD" && "window" in head.body).toBe(false);
    relay.close("normal", "done");
  });
});

test("a stream opened with a head's window keeps it as its receive window until the receiver has measured its own: the first credit returned is no more than that window", async () => {
  const out: Uint8Array[] = [];
  let stream!: Stream;
  const agent = new Session({ role: "agent", sink: { send: (b) => out.push(b), close: () => {} }, onStream: (s) => (stream = s) });
  agent.receive(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "POST", path: "/x", headers: [], window: 16_384 } }));
  agent.receive(encode({ type: "DATA", stream: 1, data: new Uint8Array(16_384) }));
  await stream.next();
  const credit = out
    .flatMap((b) => {
      const m = decodeMessage(b);
      return m.type === "BATCH" ? m.frames : [m];
    })
    .filter((f) => f.type === "WINDOW_UPDATE")
    .reduce((n, f) => n + (f.type === "WINDOW_UPDATE" ? f.increment : 0), 0);
  // Unmeasured, the session's own window is 512 KiB: the relay would then put that much of an upload on a slow link.
  expect(credit).toBe(16_384);
  agent.close("normal", "done");
});

test("on a stream opened with a head's window, credit that may be the relay's window growing (up to 512 KiB) is not taken for bytes it read: what a held answer may forget stays within what was delivered", async () => {
  const out: Uint8Array[] = [];
  let stream!: Stream;
  const agent = new Session({ role: "agent", sink: { send: (b) => out.push(b), close: () => {} }, onStream: (s) => (stream = s) });
  agent.receive(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/x", headers: [], window: 16_384 } }));
  await stream.write(new Uint8Array(16_384));
  // The relay read 8 KiB and grew its window to 100 KiB: 92 KiB of credit, of which only 8 KiB acknowledge bytes.
  agent.receive(encode({ type: "WINDOW_UPDATE", stream: 1, increment: 92 * 1024 }));
  expect(stream.bytesAcked).toBeLessThanOrEqual(16_384);
  // Past the growth the peer can have had, credit acknowledges bytes again.
  agent.receive(encode({ type: "WINDOW_UPDATE", stream: 1, increment: INITIAL_WINDOW }));
  expect(stream.bytesAcked).toBe(92 * 1024 + INITIAL_WINDOW - (INITIAL_WINDOW - 16_384));
  agent.close("normal", "done");
});

describe("frames that carry nothing (the flood budget)", () => {
  // heartbeatMs 1 s and a long tolerance: one tick a second, so the budget is FLOOD_BASE + FLOOD_PER_SECOND a tick.
  const LIMIT = FLOOD_BASE + FLOOD_PER_SECOND;
  const ping = encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) });
  function lone(role: "agent" | "relay", o: { maxStreams?: number; peerMaxStreams?: number; onStream?: (s: Stream) => void } = {}) {
    const clock = new ManualClock();
    const out = { sent: [] as Uint8Array[], ws: [] as number[], errors: [] as string[], info: undefined as SessionCloseInfo | undefined };
    const session = new Session({
      role,
      clock,
      heartbeatMs: 1_000,
      toleranceMs: 60_000,
      maxStreams: o.maxStreams,
      peerMaxStreams: o.peerMaxStreams,
      sink: { send: (b) => out.sent.push(b), backlog: () => 0, close: (c) => out.ws.push(c) },
      onStream: o.onStream,
      onResumed: role === "agent" ? () => false : undefined,
      onResume: role === "relay" ? () => {} : undefined,
      onProtocolError: (e) => out.errors.push(e.code),
      onClose: (i) => (out.info = i),
    });
    return { session, clock, out };
  }
  /** Feeds frames until the session closes or `max` were fed; returns how many it read. */
  const feed = (s: Session, frame: (i: number) => Uint8Array, max: number) => {
    let i = 0;
    for (; i < max && !s.closed; i++) s.receive(frame(i));
    return i;
  };

  test("a relay that floods PINGs and frames for streams that are not open, reading what the agent sends, is dropped (protocol_error: flood) at the first frame past the budget", () => {
    const { session, out } = lone("agent");
    const mix = [
      ping,
      encode({ type: "DATA", stream: 99, data: new Uint8Array(8) }),
      encode({ type: "END", stream: 97 }),
      encode({ type: "RESET", stream: 95, body: { code: "cancel", reason: "x" } }),
      encode({ type: "WINDOW_UPDATE", stream: 93, increment: 1 }),
      encode({ type: "PONG", stream: 0, opaque: new Uint8Array(8) }),
      encode({ type: "RESUMED", stream: 91, body: { token: "q2Vv8k3xR0a9bL1cD4eF5g", offset: 0 } }),
    ];
    // Before, every one was answered or dropped and the connection stayed up for as long as the relay kept sending.
    expect(feed(session, (i) => mix[i % mix.length]!, 1_000_000)).toBe(LIMIT + 1);
    expect(out.info).toMatchObject({ code: "protocol_error", remote: false });
    expect(out.info!.reason).toBe(`flood: the relay sent more than ${LIMIT} frames that carry nothing (PINGs, frames for streams that are not open) within a 1000 ms heartbeat tick, beyond what its requests account for`);
    expect(out.errors).toEqual(["flood"]);
    expect(out.ws).toEqual([1002]);
    // The relay is told why (GO_AWAY protocol_error) after the PONGs it asked for within the budget.
    const last = decodeMessage(out.sent.at(-1)!);
    expect(last).toMatchObject({ type: "GO_AWAY", body: { code: "protocol_error" } });
  });

  test("an agent that floods PINGs, or the same answer's head again and again, is dropped by the relay's session the same way", () => {
    const { session, out } = lone("relay");
    expect(feed(session, () => ping, 1_000_000)).toBe(LIMIT + 1);
    expect(out.info?.reason).toMatch(/^flood: the agent sent more than \d+ frames that carry nothing/);
    // The first RESPONSE_HEAD of a stream is work (FLOOD_PER_HEAD back); each one after it is ignored, and counted.
    const again = lone("relay");
    const s = again.session.open({ method: "GET", path: "/api/tags", headers: [] });
    const head = encode({ type: "RESPONSE_HEAD", stream: s.id, body: { status: 200, headers: [] } });
    expect(feed(again.session, () => head, 1_000_000)).toBe(1 + LIMIT + FLOOD_PER_HEAD + 1);
    expect(again.out.info?.reason).toMatch(/^flood: the agent sent more than \d+ frames/);
  });

  test("time gives the budget back at each heartbeat tick: heartbeats, probes and stray frames at any steady rate within it never end the session", () => {
    const { session, clock, out } = lone("agent");
    for (let tick = 0; tick < 50; tick++) {
      feed(session, () => ping, LIMIT - 8);
      clock.advance(1_000);
    }
    expect(session.closed).toBeNull();
    expect(out.errors).toEqual([]);
  });

  test("work gives the budget back: each request the agent takes is worth FLOOD_PER_HEAD frames that carry nothing, a head refused past max_streams is worth none", () => {
    // Each request is answered at once, so its stream is released at the relay's END.
    const { session, out } = lone("agent", { maxStreams: 4, onStream: (s) => (s.respond({ status: 200, headers: [] }), s.end()) });
    const extra = FLOOD_PER_HEAD - 1;
    // 3000 requests in one tick, each followed by FLOOD_PER_HEAD - 1 strays (a RESET racing its end, a late credit):
    // 48000 frames, far past the budget that time alone gives.
    let id = 1;
    for (let r = 0; r < 3000; r++, id += 2) {
      session.receive(encode({ type: "REQUEST_HEAD", stream: id, body: { method: "GET", path: "/api/tags", headers: [] } }));
      session.receive(encode({ type: "END", stream: id }));
      for (let k = 0; k < extra; k++) session.receive(encode({ type: "RESET", stream: id, body: { code: "cancel", reason: "late" } }));
    }
    expect(session.closed).toBeNull();
    expect(session.activeStreams).toBe(0);
    // Heads the agent refuses (max_streams held open) carry nothing: they give nothing back.
    const held = lone("agent", { maxStreams: 1, onStream: () => {} });
    const head = (i: number) => encode({ type: "REQUEST_HEAD", stream: 2 * i + 1, body: { method: "GET", path: "/api/tags", headers: [] } });
    // The first is taken (worth FLOOD_PER_HEAD); each after it is refused and counted.
    expect(feed(held.session, head, 1_000_000)).toBe(1 + LIMIT + FLOOD_PER_HEAD + 1);
    expect(held.out.info?.reason).toMatch(/^flood: /);
    expect(out.errors).toEqual([]);
  });

  test("a relay whose agent named its max_streams (HELLO.maxStreams) opens no stream past it: no head the agent would refuse leaves, and a freed stream makes room", async () => {
    const { session, out } = lone("relay", { peerMaxStreams: 2 });
    const head = { method: "GET", path: "/api/tags", headers: [] as [string, string][] };
    const a = session.open(head);
    session.open(head);
    expect(() => session.open(head)).toThrow("the agent takes 2 streams at once ([tunnel] max_streams) and all are in use");
    await Bun.sleep(0);
    expect(out.sent.map((b) => decodeMessage(b).type)).toEqual(["REQUEST_HEAD", "REQUEST_HEAD"]);
    a.reset("cancel", "the client left");
    expect(session.open(head).id).toBe(5);
    // An older agent names none: the relay's own limits alone hold it.
    const old = lone("relay");
    for (let i = 0; i < 300; i++) old.session.open(head);
    expect(old.session.activeStreams).toBe(300);
  });

  test("rapid reset: a relay that opens streams and resets them before their answer is cut once they cost the budget (each takes its head's FLOOD_PER_HEAD back and as much again); streams reset after their answer's head are not counted", () => {
    const started: Stream[] = [];
    const { session, out } = lone("agent", { onStream: (s) => started.push(s) });
    const head = (id: number) => encode({ type: "REQUEST_HEAD", stream: id, body: { method: "POST", path: "/api/chat", headers: [] } });
    const reset = (id: number) => encode({ type: "RESET", stream: id, body: { code: "cancel", reason: "gone" } });
    // Before, each head gave 16 back and its reset cost nothing: the relay could do this for as long as it liked.
    const pairs = Math.floor(LIMIT / FLOOD_PER_HEAD) + 1;
    feed(session, (i) => (i % 2 ? reset(i) : head(i + 1)), 1_000_000);
    expect(started.length).toBe(pairs);
    expect(out.info?.reason).toBe(
      `flood: the relay reset ${pairs} streams before their answer (rapid reset, ${FLOOD_PER_EARLY_RESET} each) and sent more than ${LIMIT} frames that carry nothing (PINGs, frames for streams that are not open) within a 1000 ms heartbeat tick, beyond what its requests account for`,
    );
    expect(FLOOD_PER_EARLY_RESET).toBe(2 * FLOOD_PER_HEAD);
    // A relay whose client leaves once the answer began (a user pressing stop) resets answered streams: work, not a flood.
    const answered = lone("agent", { onStream: (s) => s.respond({ status: 200, headers: [] }) });
    feed(answered.session, (i) => (i % 2 ? reset(i) : head(i + 1)), 100_000);
    expect(answered.session.closed).toBeNull();
    // And time gives the budget back: a few early resets a tick, at any steady rate within it, never end the session.
    const steady = lone("agent", { onStream: () => {} });
    let id = 1;
    for (let tick = 0; tick < 20; tick++, steady.clock.advance(1_000)) for (let k = 0; k < 200; k++, id += 2) steady.session.receive(head(id)), steady.session.receive(reset(id));
    expect(steady.session.closed).toBeNull();
    // Streams that lived two heartbeat ticks (a client that gave up on a slow model) are not premature: only
    // max_streams bounds them, as it bounds any stream the relay holds.
    const slow = lone("agent", { maxStreams: 2_000, onStream: () => {} });
    for (let i = 0; i < 1_000; i++) slow.session.receive(head(2 * i + 1));
    slow.clock.advance(2_000);
    for (let i = 0; i < 1_000; i++) slow.session.receive(reset(2 * i + 1));
    expect([slow.session.closed, slow.session.activeStreams]).toEqual([null, 0]);
  });

  test("tiny DATA on an open stream cannot pay for PINGs: past the stream's first 16 small frames each is joined to the others and gives the budget nothing back (and costs it nothing)", () => {
    const { session, out } = lone("agent", { onStream: () => {} });
    session.receive(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "POST", path: "/api/chat", headers: [] } }));
    const tiny = encode({ type: "DATA", stream: 1, data: new Uint8Array([120]) });
    // Before, each 1-byte DATA gave one back: a PING after each one kept the budget at zero for as long as credit lasted.
    const fed = feed(session, (i) => (i % 2 ? ping : tiny), 400_000);
    expect(out.info?.reason).toMatch(/^flood: the relay sent more than/);
    expect(fed).toBeLessThanOrEqual(2 * (LIMIT + FLOOD_PER_HEAD + 16) + 2);
    // Alone they end nothing: an honest relay forwards a client's tiny chunks one frame each.
    const honest = lone("agent", { onStream: () => {} });
    honest.session.receive(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "POST", path: "/api/chat", headers: [] } }));
    feed(honest.session, () => tiny, 100_000);
    expect(honest.session.closed).toBeNull();
  });

  test("credit for bytes the agent sent carries work; credit beyond them (a relay inflating a window it never used) carries nothing", async () => {
    let stream!: Stream;
    const { session } = lone("agent", { onStream: (s) => (stream = s) });
    session.receive(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/x", headers: [] } }));
    await stream.write(new Uint8Array(64 * 1024));
    // The head gave FLOOD_PER_HEAD back: the budget now ends at LIMIT + FLOOD_PER_HEAD frames that carry nothing.
    feed(session, () => ping, LIMIT + FLOOD_PER_HEAD);
    expect(session.closed).toBeNull();
    // 64 credits of 1 KiB acknowledge the 64 KiB sent: not counted.
    for (let i = 0; i < 64; i++) session.receive(encode({ type: "WINDOW_UPDATE", stream: 1, increment: 1024 }));
    expect(session.closed).toBeNull();
    // One byte more than was ever sent is credit nobody returns: that one is past the budget.
    session.receive(encode({ type: "WINDOW_UPDATE", stream: 1, increment: 1 }));
    expect(session.closed?.reason).toMatch(/^flood: /);
  });
});

test("a session this side closes keeps its own reason when the transport reports the close from inside close() (Bun's server WebSocket does)", () => {
  for (const [code, reason] of [
    ["replaced", "another connection for this tunnel replaced this one"],
    ["heartbeat_timeout", "no frame from the peer"],
    ["normal", "going away: all streams finished"],
  ] as const) {
    const infos: SessionCloseInfo[] = [];
    const relay: Session = new Session({
      role: "relay",
      // ws.close() runs the server's close handler before it returns, which tells the session its transport closed.
      sink: { send: () => {}, close: (c, r) => relay.transportClosed(`websocket closed (${c}: ${r})`) },
      onClose: (i) => infos.push(i),
    });
    relay.close(code, reason);
    expect(infos).toEqual([{ code, reason, remote: false }]);
  }
  // A transport that closes on its own is still the transport's.
  const infos: SessionCloseInfo[] = [];
  const lost = new Session({ role: "relay", sink: { send: () => {}, close: () => {} }, onClose: (i) => infos.push(i) });
  lost.transportClosed("websocket closed (1006)");
  expect(infos).toEqual([{ code: "transport_closed", reason: "websocket closed (1006)", remote: true }]);
});

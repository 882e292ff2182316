// Held answers across two in-memory sessions: a body resumed on a new session arrives whole and once, the upstream is
// read once; unknown tokens and impossible offsets are refused; the window, refusals and the buffer bounds hold.
import { describe, expect, test } from "bun:test";
import { forward, serveStream, WHOLE_ANSWER_BYTES } from "./http-over-stream.ts";
import { AnswerResumes, DEFAULT_RESUME_LIMITS, type ResumeLimits } from "./resumable-answer.ts";
import { Session } from "./session.ts";
import { ManualClock, type Clock } from "../core/clock.ts";
import type { Stream } from "./stream.ts";

const TUNNEL = "alice";

/** The relay's side of offers, as small as these tests need (the relay's own is src/relay/resume-offers.ts). */
class ResumeOffers {
  private readonly offers = new Map<string, Session>();
  constructor(readonly windowMs: number) {}
  offer(tunnel: string, token: string, session: Session): void {
    this.offers.set(`${tunnel} ${token}`, session);
  }
  async claim(tunnel: string, token: string, offset: number, waitMs: number): Promise<Stream | null> {
    const end = performance.now() + waitMs;
    for (;;) {
      const session = this.offers.get(`${tunnel} ${token}`);
      if (session) {
        this.offers.delete(`${tunnel} ${token}`);
        const s = session.resumeStream(token, offset);
        s.end();
        return s;
      }
      if (performance.now() > end) return null;
      await Bun.sleep(5);
    }
  }
}

/** A relay and an agent session over an in-memory pipe that can be cut (both sides then see the transport close). */
function link(resumes: AnswerResumes, offers: ResumeOffers, handler: (req: Request) => Promise<Response>, tunnel = TUNNEL, dropFences = false, agentClock?: Clock) {
  let dead = false;
  /** What the agent sends from now on is lost (a link gone quiet before either side noticed). */
  let muted = false;
  let relay!: Session;
  let agent!: Session;
  const deliver = (to: () => Session, b: Uint8Array) => !dead && queueMicrotask(() => !dead && to().receive(b));
  const toAgent: string[] = [];
  relay = new Session({
    role: "relay",
    sink: { send: (b) => (toAgent.push(b[0]!.toString(16)), deliver(() => agent, b)), close: () => {} },
    onResume: (token) => offers.offer(tunnel, token, relay),
  });
  agent = new Session({
    role: "agent",
    clock: agentClock,
    // dropFences: a relay that never answers the agent's fence PINGs (opaque 2^52 and up), only its heartbeats.
    sink: { send: (b) => !muted && !(dropFences && b[0] === 0x20 && new DataView(b.buffer, b.byteOffset).getFloat64(6) >= 2 ** 52) && deliver(() => relay, b), close: () => {} },
    onStream: (s) => void serveStream(s, handler, { resume: resumes }),
    onResumed: (id, token, offset) => resumes.resumed(agent, id, token, offset),
    onResumeRefused: (token, reason) => resumes.refused(token, reason),
  });
  resumes.attach(agent);
  return {
    relay,
    agent,
    toAgent,
    mute() {
      muted = true;
    },
    cut() {
      dead = true;
      relay.transportClosed("cut");
      agent.transportClosed("cut");
    },
  };
}

/**
 * An upstream answer of `n` numbered lines, one every `ms`, recording how far it was read and whether it was cancelled;
 * with `failAfter`, the body errors after that many lines instead.
 */
function upstream(n: number, ms = 2, failAfter = -1) {
  const seen = { produced: 0, cancelled: false, requests: 0, aborted: false };
  const handler = async (req: Request) => {
    seen.requests++;
    req.signal.addEventListener("abort", () => (seen.aborted = true));
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (i === failAfter) {
          seen.produced = n;
          return c.error(new Error("the model crashed"));
        }
        if (i >= n) {
          seen.produced = n;
          return c.close();
        }
        await Bun.sleep(ms);
        c.enqueue(new TextEncoder().encode(`line ${i++}\n`));
        if (i < n) seen.produced = i;
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
  };
  return { seen, handler };
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `line ${i}\n`).join("");

/** Reads a stream's body until it has at least `min` bytes; returns the text. */
/** A generate answer through a fresh link, held for resume: the agent's holds and offers, the link, the relay's stream and its token. */
async function heldAnswer(up: ReturnType<typeof upstream>) {
  const resumes = new AnswerResumes();
  const offers = new ResumeOffers(10_000);
  const a = link(resumes, offers, up.handler);
  let first!: Stream;
  await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
  return { resumes, offers, a, first, token: (await first.responseHead).resume! };
}

async function readSome(s: Stream, min: number): Promise<string> {
  let text = "";
  while (text.length < min) {
    const c = await s.next();
    if (!c) break;
    text += new TextDecoder().decode(c);
  }
  return text;
}
async function readAll(s: Stream): Promise<string> {
  let text = "";
  for (let c = await s.next(); c; c = await s.next()) text += new TextDecoder().decode(c);
  return text;
}

describe("held answers", () => {
  test("an answer cut by its session goes on from the client's byte on a new session: whole, once, one upstream request", async () => {
    const up = upstream(200);
    const resumes = new AnswerResumes();
    const offers = new ResumeOffers(10_000);
    const a = link(resumes, offers, up.handler);
    let first!: Stream;
    const res = await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
    expect(res.status).toBe(200);
    const head = await first.responseHead;
    expect(head.resume).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // The client reads part of the answer; then the session dies.
    let got = await readSome(first, 300);
    a.cut();
    expect(resumes.size).toBe(1);
    await Bun.sleep(30);
    // The upstream keeps generating meanwhile.
    expect(up.seen.cancelled).toBe(false);
    const b = link(resumes, offers, up.handler);
    const next = await offers.claim(TUNNEL, head.resume!, got.length, 1_000);
    expect(next).not.toBeNull();
    got += await readAll(next!);
    expect(got).toBe(expected(200));
    expect(up.seen.requests).toBe(1);
    expect(up.seen.cancelled).toBe(false);
    expect(up.seen.aborted).toBe(false);
    expect(b.toAgent).toContain("17");
    expect(resumes.size).toBe(0);
  });

  test("an answer cut while one big piece of it was half sent (its credit ran out mid-piece): the relay's byte, past what the agent had finished sending, is one it can go on from", async () => {
    // One 2 MiB piece from the upstream: the agent sends what credit allows, the relay reads part, then the link is cut.
    const piece = new Uint8Array(2 * 1024 * 1024).map((_, i) => 97 + (i % 26));
    let requests = 0;
    const handler = async () => {
      requests++;
      return new Response(new ReadableStream({ start: (c) => (c.enqueue(piece), c.close()) }), { headers: { "content-type": "application/octet-stream" } });
    };
    const resumes = new AnswerResumes();
    const offers = new ResumeOffers(10_000);
    const a = link(resumes, offers, handler);
    let first!: Stream;
    await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/x", { onStream: (s) => (first = s) });
    const token = (await first.responseHead).resume!;
    let got = 0;
    const parts: Uint8Array[] = [];
    while (got < 300 * 1024) {
      const c = (await first.next())!;
      parts.push(c);
      got += c.length;
    }
    await Bun.sleep(20);
    a.cut();
    link(resumes, offers, handler);
    const next = await offers.claim(TUNNEL, token, got, 1_000);
    expect(next).not.toBeNull();
    for (let c = await next!.next(); c; c = await next!.next()) parts.push(c);
    expect(Buffer.concat(parts).equals(Buffer.from(piece))).toBe(true);
    expect(requests).toBe(1);
  });

  test("an answer whose END was sent but never read by the relay stays held: the tail and the end come on the new session", async () => {
    const up = upstream(30);
    const { resumes, offers, a, first, token } = await heldAnswer(up);
    let got = await readSome(first, 20);
    // The link goes quiet: the last lines and the END are written, and lost.
    a.mute();
    while (up.seen.produced < 30) await Bun.sleep(5);
    await Bun.sleep(20);
    expect(resumes.size).toBe(1);
    a.cut();
    got += await readAll(first).catch(() => "");
    const b = link(resumes, offers, up.handler);
    const next = await offers.claim(TUNNEL, token, got.length, 1_000);
    expect(next).not.toBeNull();
    got += await readAll(next!);
    expect(got).toBe(expected(30));
    expect(up.seen.requests).toBe(1);
    expect(up.seen.aborted).toBe(false);
    // Read by the relay this time (its PONG came back): forgotten.
    await Bun.sleep(10);
    expect(resumes.size).toBe(0);
    expect(b.toAgent).toContain("17");
  });

  test("an upstream that failed while the link was quiet: after the resume the tail comes, then the reset with its reason", async () => {
    const up = upstream(30, 2, 25);
    const { resumes, offers, a, first, token } = await heldAnswer(up);
    let got = await readSome(first, 20);
    a.mute();
    while (up.seen.produced < 30) await Bun.sleep(5);
    await Bun.sleep(20);
    expect(resumes.size).toBe(1);
    a.cut();
    got += await readAll(first).catch(() => "");
    link(resumes, offers, up.handler);
    const next = await offers.claim(TUNNEL, token, got.length, 1_000);
    expect(next).not.toBeNull();
    let why = "";
    try {
      for (let c = await next!.next(); c; c = await next!.next()) got += new TextDecoder().decode(c);
    } catch (e) {
      why = (e as Error).message;
    }
    expect(got).toBe(expected(25));
    expect(why).toBe("the model crashed");
    await Bun.sleep(10);
    expect(resumes.size).toBe(0);
  });

  test("an answer read whole by the relay is forgotten, though no credit acknowledged its last bytes", async () => {
    const up = upstream(5);
    const resumes = new AnswerResumes();
    const a = link(resumes, new ResumeOffers(10_000), up.handler);
    let first!: Stream;
    await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
    expect(await readAll(first)).toBe(expected(5));
    await Bun.sleep(10);
    expect(resumes.size).toBe(0);
    expect(resumes.bufferedBytes).toBe(0);
  });

  test("RESUMED with a token the agent does not hold, or an offset it cannot go on from, is refused; the answer keeps waiting", async () => {
    const up = upstream(50);
    const { resumes, offers, a, first, token } = await heldAnswer(up);
    const got = await readSome(first, 40);
    a.cut();
    const b = link(resumes, offers, up.handler);
    await Bun.sleep(10);
    // Not a token of this agent: refused.
    const stranger = b.relay.resumeStream("AAAAAAAAAAAAAAAAAAAAAA", 0);
    expect(await stranger.next().then(() => "read", (e) => e.code)).toBe("refused");
    // Beyond what the agent sent: refused, and the answer still waits.
    const ahead = b.relay.resumeStream(token, 1_000_000);
    expect(await ahead.next().then(() => "read", (e) => e.code)).toBe("refused");
    expect(resumes.size).toBe(1);
    const right = b.relay.resumeStream(token, got.length);
    expect(got + (await readAll(right))).toBe(expected(50));
  });

  test("an answer is taken over once: a second RESUMED for it is refused while the first goes on, as is an offset the upstream produced but the agent never sent", async () => {
    const up = upstream(50);
    const { resumes, offers, a, first, token } = await heldAnswer(up);
    const got = await readSome(first, 40);
    a.cut();
    const b = link(resumes, offers, up.handler);
    // The upstream finishes while no session is there: its whole answer is held, most of it never sent.
    for (let i = 0; i < 200 && up.seen.produced < 50; i++) await Bun.sleep(10);
    expect(up.seen.produced).toBe(50);
    const end = expected(50).length;
    expect(got.length).toBeLessThan(end - 100);
    // Held but never sent: a relay that claims to have read it would skip the bytes in between.
    const unsent = b.relay.resumeStream(token, end);
    expect(await unsent.next().then(() => "read", (e) => e.code)).toBe("refused");
    const right = b.relay.resumeStream(token, got.length);
    const again = b.relay.resumeStream(token, got.length);
    expect(await again.next().then(() => "read", (e) => e.code)).toBe("refused");
    expect(got + (await readAll(right))).toBe(expected(50));
    expect(up.seen.requests).toBe(1);
  });

  test("past the resume window the upstream request is cancelled and the answer forgotten", async () => {
    const up = upstream(10_000, 1);
    const failed: string[] = [];
    const resumes = new AnswerResumes({ ...DEFAULT_RESUME_LIMITS, windowMs: 150 }, { failed: (r) => failed.push(r) });
    const a = link(resumes, new ResumeOffers(10_000), up.handler);
    let first!: Stream;
    await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
    await readSome(first, 10);
    a.cut();
    await Bun.sleep(50);
    expect(up.seen.aborted).toBe(false);
    await Bun.sleep(250);
    expect(up.seen.aborted).toBe(true);
    expect(up.seen.cancelled).toBe(true);
    expect(failed).toEqual(["window"]);
    expect(resumes.size).toBe(0);
  });

  test("an agent frozen (asleep) past its window notices the loss only on waking: the answer is given up at once, its upstream request cancelled, not a whole window later", async () => {
    const up = upstream(10_000, 1);
    const failed: string[] = [];
    const resumes = new AnswerResumes({ ...DEFAULT_RESUME_LIMITS, windowMs: 60_000 }, { failed: (r) => failed.push(r) });
    const clock = new ManualClock();
    const a = link(resumes, new ResumeOffers(60_000), up.handler, TUNNEL, false, clock);
    let first!: Stream;
    await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
    await readSome(first, 10);
    // 100 s with no timer run (the default 15 s tolerance): the loss was due 81 s before it is noticed.
    clock.jumpWall(100_000);
    a.cut();
    for (let i = 0; i < 200 && !up.seen.aborted; i++) await Bun.sleep(10);
    expect(up.seen.aborted).toBe(true);
    expect(up.seen.cancelled).toBe(true);
    expect(failed).toEqual(["window"]);
    expect(resumes.size).toBe(0);
  });

  test("a window changed on reload (setWindow) applies to an answer that loses its session afterwards", async () => {
    const up = upstream(10_000, 1);
    const failed: string[] = [];
    const resumes = new AnswerResumes({ ...DEFAULT_RESUME_LIMITS, windowMs: 60_000 }, { failed: (r) => failed.push(r) });
    const a = link(resumes, new ResumeOffers(10_000), up.handler);
    let first!: Stream;
    await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
    await readSome(first, 10);
    resumes.setWindow(150);
    expect(resumes.limits).toEqual({ ...DEFAULT_RESUME_LIMITS, windowMs: 150 });
    a.cut();
    await Bun.sleep(400);
    expect(up.seen.aborted).toBe(true);
    expect(failed).toEqual(["window"]);
    expect(resumes.size).toBe(0);
  });

  test("while no session is there the upstream is read only up to the per-answer bound", async () => {
    const up = upstream(100_000, 0);
    const limits: ResumeLimits = { windowMs: 5_000, perStreamBytes: 64 * 1024, perSessionBytes: 1 << 30 };
    const resumes = new AnswerResumes(limits);
    const a = link(resumes, new ResumeOffers(10_000), up.handler);
    let first!: Stream;
    await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
    await readSome(first, 10);
    a.cut();
    await Bun.sleep(300);
    // Each line is ~11 bytes: 64 KiB plus one window that was in flight, at most.
    expect(up.seen.produced * 11).toBeLessThan(64 * 1024 + 512 * 1024 + 4096);
    expect(resumes.bufferedBytes).toBeLessThanOrEqual(64 * 1024 + 16);
    const before = up.seen.produced;
    await Bun.sleep(100);
    expect(up.seen.produced).toBe(before);
  });

  test("while no session is there all answers together are read only up to the per-session bound", async () => {
    const ups = [upstream(100_000, 0), upstream(100_000, 0), upstream(100_000, 0)];
    let k = 0;
    const limits: ResumeLimits = { windowMs: 5_000, perStreamBytes: 1 << 30, perSessionBytes: 96 * 1024 };
    const resumes = new AnswerResumes(limits);
    const a = link(resumes, new ResumeOffers(10_000), (req) => ups[k++]!.handler(req));
    const streams: Stream[] = [];
    for (let i = 0; i < ups.length; i++) await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => streams.push(s) });
    for (const s of streams) await readSome(s, 10);
    a.cut();
    await Bun.sleep(300);
    // Past the bound each answer reads at most one more chunk (one line, ~11 bytes).
    expect(resumes.bufferedBytes).toBeLessThanOrEqual(96 * 1024 + ups.length * 16);
    const before = ups.map((u) => u.seen.produced);
    await Bun.sleep(100);
    expect(ups.map((u) => u.seen.produced)).toEqual(before);
  });

  test("answers sent whole that the relay never acknowledges (no credit, no fence answered) are held only within the per-session bound, the oldest forgotten first", async () => {
    const piece = 48 * 1024;
    const limits: ResumeLimits = { windowMs: 5_000, perStreamBytes: 4 << 20, perSessionBytes: 128 * 1024 };
    const resumes = new AnswerResumes(limits);
    // Each answer fits its window, so it is sent whole, END and all, with no credit back; the relay reads none of it.
    const a = link(resumes, new ResumeOffers(10_000), async () => new Response(new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(piece).fill(7)), c.close()) })), TUNNEL, true);
    const streams: Stream[] = [];
    for (let i = 0; i < 12; i++) await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => streams.push(s) });
    for (let i = 0; i < 200 && !streams.every((s) => s.remoteDone); i++) await Bun.sleep(5);
    expect(streams.every((s) => s.remoteDone && s.buffered === piece)).toBe(true);
    // Before, all 12 stayed held (576 KiB) until the session ended.
    expect(resumes.bufferedBytes).toBeLessThanOrEqual(limits.perSessionBytes);
    expect(resumes.bufferedBytes).toBeGreaterThan(0);
    a.cut();
  });

  test("an answer whose upload was still coming when the session died is not held: its request is cancelled at once", async () => {
    let aborted = false;
    const resumes = new AnswerResumes();
    const a = link(resumes, new ResumeOffers(10_000), async (req) => {
      req.signal.addEventListener("abort", () => (aborted = true));
      // Echo: the head goes at once, while the upload still streams.
      return new Response(req.body, { headers: { "content-type": "application/octet-stream" } });
    });
    const upload = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode("first part ")) });
    let first!: Stream;
    const req = new Request("http://x/", { method: "POST", body: upload, duplex: "half" } as RequestInit);
    await forward(a.relay, req, "/api/blobs/x", { onStream: (s) => (first = s) });
    expect((await first.responseHead).resume).toBeDefined();
    expect(await readSome(first, 5)).toBe("first part ");
    a.cut();
    await Bun.sleep(20);
    expect(aborted).toBe(true);
    expect(resumes.size).toBe(0);
  });

  test("RESUME_REFUSED (no client waits for it) ends a waiting answer at once: its upstream request is cancelled", async () => {
    const up = upstream(10_000, 1);
    const failed: string[] = [];
    const resumes = new AnswerResumes(DEFAULT_RESUME_LIMITS, { failed: (r) => failed.push(r) });
    const a = link(resumes, new ResumeOffers(10_000), up.handler);
    let first!: Stream;
    await forward(a.relay, new Request("http://x/", { method: "POST", body: "{}" }), "/api/generate", { onStream: (s) => (first = s) });
    const token = (await first.responseHead).resume!;
    await readSome(first, 10);
    a.cut();
    const b = link(resumes, new ResumeOffers(10_000), up.handler);
    await Bun.sleep(20);
    expect(up.seen.aborted).toBe(false);
    b.relay.sendFrame({ type: "RESUME_REFUSED", stream: 0, body: { token, reason: "no client waits for this answer here" } });
    await Bun.sleep(20);
    expect(up.seen.aborted).toBe(true);
    expect(failed).toEqual(["refused"]);
    expect(resumes.size).toBe(0);
  });
});

describe("small answers read whole", () => {
  /** Relay and agent sessions that speak BATCH; every message the agent sends is kept (decoded) to count what crossed. */
  function batchLink(handler: (req: Request) => Promise<Response>, resumes?: AnswerResumes) {
    let relay!: Session;
    let agent!: Session;
    const fromAgent: Uint8Array[] = [];
    relay = new Session({ role: "relay", batch: true, sink: { send: (b) => queueMicrotask(() => agent.receive(b)), close: () => {} } });
    agent = new Session({
      role: "agent",
      batch: true,
      sink: { send: (b) => (fromAgent.push(b), queueMicrotask(() => relay.receive(b))), close: () => {} },
      onStream: (s) => void serveStream(s, handler, { resume: resumes }),
    });
    resumes?.attach(agent);
    return { relay, fromAgent };
  }
  const ANSWER = JSON.stringify({ response: "hi", done: true });
  const small = async () => new Response(ANSWER, { headers: { "content-type": "application/json", "content-length": String(ANSWER.length) } });

  for (const held of [true, false]) {
    test(`${held ? "held for resume" : "no resume"}: head, DATA and END leave as one BATCH message${held ? ", with no token and nothing held" : ""}`, async () => {
      const resumes = held ? new AnswerResumes() : undefined;
      const l = batchLink(small, resumes);
      let s!: Stream;
      const res = await forward(l.relay, new Request("http://x/", { method: "POST", body: "{}", headers: { "content-length": "2" } }), "/api/generate", { onStream: (x) => (s = x) });
      expect(await res.text()).toBe(ANSWER);
      // One message from the agent: a BATCH (0x30) of RESPONSE_HEAD (0x11), DATA (0x12) and END (0x13).
      expect(l.fromAgent.length).toBe(1);
      const m = l.fromAgent[0]!;
      expect(m[0]).toBe(0x30);
      const types: number[] = [];
      for (let at = 6; at < m.length; ) {
        const len = (m[at]! << 24) | (m[at + 1]! << 16) | (m[at + 2]! << 8) | m[at + 3]!;
        // The window sizer's probe PINGs ride along; they are not the answer's.
        if (m[at + 4] !== 0x20) types.push(m[at + 4]!);
        at += 4 + len;
      }
      expect(types).toEqual([0x11, 0x12, 0x13]);
      // All of it arrives at once or not at all: a token would only make the relay wait for a resume that cannot come.
      expect((await s.responseHead).resume).toBeUndefined();
      if (resumes) expect(resumes.size).toBe(0);
    });
  }

  test("an answer over the whole-answer size, or without a declared length, still streams with its token", async () => {
    const resumes = new AnswerResumes();
    const big = "x".repeat(WHOLE_ANSWER_BYTES + 1);
    for (const headers of [{ "content-length": String(big.length) }, {}] as Record<string, string>[]) {
      const l = batchLink(async () => new Response(headers["content-length"] ? big : new Blob([big]).stream(), { headers }), resumes);
      let s!: Stream;
      const res = await forward(l.relay, new Request("http://x/", { method: "POST", body: "{}", headers: { "content-length": "2" } }), "/api/generate", { onStream: (x) => (s = x) });
      expect((await s.responseHead).resume).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(await res.text()).toBe(big);
    }
  });
});

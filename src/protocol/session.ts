// A multiplexed tunnel session over any binary message transport: frames, streams, credit, heartbeats, go-away (HTTP over a stream is http-over-stream.ts).
import { elapsedSince, instant, mark, realClock, type Clock, type Instant } from "../core/clock.ts";
import { decodeMessage, encode, encodeBatch, ProtocolError } from "./codec.ts";
import { CLOSE_CODES, INITIAL_WINDOW, MAX_BATCH, MAX_STREAM_ID, type Frame, type GoAwayCode, type RequestHead } from "./messages.ts";
import { BACKLOG_MARK, FrameScheduler } from "./scheduler.ts";
import { SMALL_DATA, Stream, StreamError } from "./stream.ts";
import { probeSentAt, WindowSizer } from "./window-sizing.ts";

/** Where the session writes frames and how it ends the underlying connection. */
export interface FrameSink {
  send(bytes: Uint8Array): void;
  /**
   * Bytes the transport holds that it has not handed to the kernel yet. With it, DATA beyond BACKLOG_MARK waits in the
   * session's per-stream queues (scheduler.ts), where a head or a token line can pass it; call Session.drained() when
   * the transport drains, or the session looks again a millisecond later.
   */
  backlog?(): number;
  /** WebSocket close code and reason (4000 + a stable code, see docs/protocol.md). */
  close(code: number, reason: string): void;
}

export interface SessionCloseInfo {
  code: GoAwayCode | "transport_closed";
  reason: string;
  /** true when the peer (or the transport) ended it, false when we did. */
  remote: boolean;
  /** The peer sent GO_AWAY "normal": a planned move (its in-flight streams go on); set by the agent's connector. */
  moving?: boolean;
}

export interface SessionOptions {
  /** The relay opens streams; the agent accepts them. */
  role: "relay" | "agent";
  sink: FrameSink;
  clock?: Clock;
  heartbeatMs?: number;
  toleranceMs?: number;
  /** Streams accepted from the peer at once; more are refused with RESET refused. */
  maxStreams?: number;
  /**
   * Relay: the streams the agent takes at once (HELLO.maxStreams, HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS); open()
   * opens no more than that many. Absent (an older agent names none), the relay's own limits alone apply.
   */
  peerMaxStreams?: number;
  /**
   * Agent: a stream left waiting on the peer this long (no DATA or END of a request body a reader waits for, no credit
   * for an answer) is reset with `timeout`, and onStall told why; absent or 0, never. Checked at each heartbeat tick.
   */
  stallMs?: number;
  onStall?: (reason: string) => void;
  /** A fixed receive window per stream; without it, windows follow the measured bandwidth-delay product (window-sizing.ts). */
  window?: number;
  /** Agent: each stream the relay opens. */
  onStream?: (s: Stream) => void;
  onClose?: (info: SessionCloseInfo) => void;
  onGoAway?: (code: GoAwayCode, reason: string) => void;
  /** Every frame that failed to decode or broke the rules (before the session closes). */
  onProtocolError?: (e: ProtocolError) => void;
  /**
   * The peer listed the "batch" capability: small frames written in one turn of the event loop leave as one BATCH
   * message (one WebSocket message and one write instead of one per frame). Off, every frame is its own message.
   */
  batch?: boolean;
  /**
   * Relay: the agent listed "window": a stream opens with the relay's measured window as its initial credit both ways
   * (REQUEST_HEAD.window), not 512 KiB. The agent always honours a window a head carries.
   */
  windowHeads?: boolean;
  /**
   * Relay: the window the tunnel's previous session had measured, named for streams opened before this one has
   * measured its own (a resumed answer right after a reconnect would otherwise open with 512 KiB).
   */
  firstWindow?: number;
  /** Relay, "resume" negotiated: the agent offers to resume the answer it holds under this token. */
  onResume?: (token: string, sent?: number) => void;
  /** Agent, "resume" negotiated: the relay takes the answer held under `token` over on stream `id` from `offset`. */
  /** Returns false when no answer is held under `token` (it answered with a RESET): that RESUMED carried nothing. */
  onResumed?: (id: number, token: string, offset: number, window?: number) => boolean;
  /** Agent, "resume" negotiated: the relay will never take the answer held under `token` over. */
  onResumeRefused?: (token: string, reason: string) => void;
}

/**
 * Bytes the transport may hold unsent before the peer counts as one that stopped reading. Every frame a peer can make
 * this side write (a PONG per PING, a RESET per refused stream) is small and DATA waits at BACKLOG_MARK, so a reading
 * peer never gets near it; a relay that floods PINGs and reads nothing grew the agent's memory by its flood (the PONGs
 * queued in the WebSocket client, 380 MiB in 5 s): past this, the session ends as a heartbeat failure and reconnects.
 */
export const UNREAD_CAP = 4 * 1024 * 1024;

/** Frames this big or bigger are not worth batching: they leave at once, alone (after what was queued before them). */
const BATCH_ITEM_MAX = 16 * 1024;

/**
 * Fence PINGs (see fence()) carry opaque values from 2^52 up: heartbeats carry the clock (milliseconds since 1970, far
 * below) and probes are negative, so the three stay apart; every peer echoes the bytes, so any relay answers them.
 */
const FENCE_BASE = 2 ** 52;

/**
 * Frames that carry nothing (a PING, a PONG that answers no fence, DATA, END, RESET or WINDOW_UPDATE for a stream that
 * is not open, credit for bytes never sent, a head refused past max_streams, a RESUMED for an answer not held) a peer
 * may send net of its work, per heartbeat tick: FLOOD_BASE, plus FLOOD_PER_SECOND for each second of the tick. A head
 * (or a RESPONSE_HEAD) gives back FLOOD_PER_HEAD, DATA that reaches an open stream one (but a tiny one its stream joins
 * to the others, nothing: stream.ts, SMALL_DATA). Each is cheap, but a relay sending
 * them as fast as it can while it reads had the agent's event loop to itself (Bun's client hands every message it read
 * to the session in one turn): a local /api/tags took 1.5 s. Past the budget the session ends, `protocol_error: flood:`,
 * and the agent reconnects with its backoff. Honest peers send them at request rate (docs/protocol.md, Heartbeats).
 */
export const FLOOD_BASE = 4096;
export const FLOOD_PER_SECOND = 1024;
export const FLOOD_PER_HEAD = 16;
/**
 * A stream the relay resets before the agent wrote its answer's head, in the heartbeat tick it opened or the next (a
 * premature reset, as Envoy counts them: younger than one to two ticks), takes its head's FLOOD_PER_HEAD back and costs as
 * much again (HTTP/2's rapid reset, CVE-2023-44487): a head and its reset cost the agent a stream, a request started in
 * the broker and a log line, and freed the stream at once, so max_streams never bounded them. A relay that opened and
 * reset streams as fast as it could (each reset gave the budget 16 back) made a local /api/tags take 10 ms to 28 s at
 * the median (1.5–8.5 ms unloaded; docs/protocol.md, Heartbeats) and was never cut; now one reset before its answer costs what one answered request gives back, and a relay
 * that does nothing else is cut after FLOOD_BASE / 16 (256) of them plus 64 a second.
 */
export const FLOOD_PER_EARLY_RESET = 2 * FLOOD_PER_HEAD;

export class Session {
  readonly role: "relay" | "agent";
  private readonly streams = new Map<number, Stream>();
  private nextId = 1;
  private readonly clock: Clock;
  private readonly heartbeatMs: number;
  private readonly toleranceMs: number;
  private readonly maxStreams: number;
  private readonly window: number;
  /** When the last frame came (both clocks: a wall clock set back must not silence the heartbeat). */
  private readonly lastReceived: Instant;
  private readonly lastPing: Instant;
  /** When the heartbeat tick last ran: a gap far past the tick means this process was frozen (or had no CPU) meanwhile. */
  private readonly lastTick: Instant;
  /** The last such gap past the tolerance (ms) and when the tick that saw it ran: the peer lost this side then. */
  private stalledMs = 0;
  private readonly stalledAt: Instant;
  private timer: unknown = null;
  private closedInfo: SessionCloseInfo | null = null;
  /**
   * Why this side is closing the session, set before the transport is told to close: Bun runs a server WebSocket's
   * close handler inside ws.close(), so the relay heard "transport closed" before its own reason and recorded every
   * close it made (replaced, going away, heartbeat timeout) as transport_closed.
   */
  private closing: SessionCloseInfo | null = null;
  private draining = false;
  private peerDraining = false;
  /** The peer said GO_AWAY "normal": it is leaving on purpose (the agent stopping), not lost. */
  private peerLeaving = false;
  private drainTimer: unknown = null;
  private drainResolve: (() => void) | null = null;
  /** Round-trip time of the last answered PING, ms. */
  rttMs: number | null = null;
  /** Encoded frames not yet handed to the transport: control first, DATA fairly across streams (scheduler.ts). */
  private readonly sched = new FrameScheduler();
  private flushScheduled = false;
  private drainPoll: ReturnType<typeof setTimeout> | null = null;
  /** Null with a fixed window (opts.window). */
  private readonly sizer: WindowSizer | null;
  /** Fences waiting for their PONG, by opaque value. */
  private readonly fences = new Map<number, (lost: StreamError | null) => void>();
  private fenceSeq = 0;
  /** The last fence written by each stall sweep and when (stallMs only): fences older than stallMs are given up. */
  private readonly fenceMarks: { opaque: number; at: number }[] = [];
  /** Frames that carried nothing this tick, less what the peer's work gave back (FLOOD_BASE); reset at each tick. */
  private idle = 0;
  /** Of these, streams reset before their answer this tick (FLOOD_PER_EARLY_RESET): named when the budget runs out. */
  private early = 0;
  /** Heartbeat ticks so far: a stream's age in ticks, without a clock read per frame. */
  private ticks = 0;
  private readonly floodLimit: number;
  private readonly tickMs: number;

  constructor(private readonly opts: SessionOptions) {
    this.role = opts.role;
    this.clock = opts.clock ?? realClock;
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.toleranceMs = opts.toleranceMs ?? 15_000;
    this.maxStreams = opts.maxStreams ?? 256;
    this.window = opts.window ?? INITIAL_WINDOW;
    this.sizer = opts.window === undefined ? new WindowSizer() : null;
    this.lastReceived = instant(this.clock);
    this.lastPing = instant(this.clock);
    this.lastTick = instant(this.clock);
    this.stalledAt = instant(this.clock);
    // Check often enough that silence is noticed within tolerance plus one tick.
    this.tickMs = Math.max(5, Math.min(this.heartbeatMs, Math.floor(this.toleranceMs / 4)));
    this.floodLimit = FLOOD_BASE + Math.ceil((FLOOD_PER_SECOND * this.tickMs) / 1000);
    this.schedule();
  }

  get closed(): SessionCloseInfo | null {
    return this.closedInfo;
  }
  get activeStreams(): number {
    return this.streams.size;
  }
  /** Relay: the streams the agent said it takes at once (HELLO.maxStreams); undefined when it named none. */
  get peerMaxStreams(): number | undefined {
    return this.opts.peerMaxStreams;
  }
  /** true once this side sent GO_AWAY (shutdown, token expiry): the peer is being sent elsewhere, not gone. */
  get sentGoAway(): boolean {
    return this.draining;
  }
  /** true once either side sent GO_AWAY: no new streams. */
  get goingAway(): boolean {
    return this.draining || this.peerDraining;
  }

  // ---- transport → session ----

  /** Feeds one binary message from the transport. A bad frame closes the session with protocol_error. */
  receive(bytes: Uint8Array | ArrayBuffer): void {
    if (this.closedInfo) return;
    mark(this.clock, this.lastReceived);
    try {
      const m = decodeMessage(bytes);
      if (m.type !== "BATCH") this.dispatch(m);
      else for (const f of m.frames) if (!this.closedInfo) this.dispatch(f);
    } catch (e) {
      const err = e instanceof ProtocolError ? e : new ProtocolError("bad_payload", e instanceof Error ? e.message : String(e));
      this.opts.onProtocolError?.(err);
      this.close("protocol_error", `${err.code}: ${err.message}`);
    }
  }

  /** The transport ended underneath us. */
  transportClosed(reason: string): void {
    this.finish(this.closing ?? { code: "transport_closed", reason, remote: true });
  }

  private dispatch(f: Frame): void {
    switch (f.type) {
      case "PING":
        this.nothing();
        if (!this.peerStoppedReading()) this.sendFrame({ type: "PONG", stream: 0, opaque: f.opaque });
        return;
      case "PONG": {
        const sent = Number(new DataView(f.opaque.buffer, f.opaque.byteOffset, 8).getFloat64(0));
        if (sent >= FENCE_BASE) {
          const done = this.fences.get(sent);
          if (!done) return this.nothing();
          this.fences.delete(sent);
          done(null);
          return;
        }
        this.nothing();
        const probe = probeSentAt(sent);
        if (probe !== null) {
          const rtt = this.sizer?.onProbeAnswered(probe);
          if (rtt != null) this.rttMs = rtt;
        } else if (Number.isFinite(sent)) this.rttMs = Math.max(0, this.clock.now() - sent);
        return;
      }
      case "GO_AWAY":
        if (this.peerDraining) this.nothing();
        this.peerDraining = true;
        if (f.body.code === "normal") this.peerLeaving = true;
        this.opts.onGoAway?.(f.body.code, f.body.reason);
        if (f.body.code !== "normal") this.close(f.body.code, f.body.reason, true);
        else this.checkDrained();
        return;
      case "HELLO":
      case "WELCOME":
        throw new ProtocolError("unexpected_frame", `${f.type} after the handshake`);
      case "REQUEST_HEAD":
        if (this.role !== "agent") throw new ProtocolError("unexpected_frame", "REQUEST_HEAD sent to the relay");
        return this.accept(f.stream, f.body);
      case "RESPONSE_HEAD": {
        if (this.role !== "relay") throw new ProtocolError("unexpected_frame", "RESPONSE_HEAD sent to the agent");
        // Work once per stream: a second head is ignored, and carried nothing.
        if (this.streams.get(f.stream)?.onResponseHead(f.body)) this.idle -= FLOOD_PER_HEAD;
        else this.nothing();
        return;
      }
      case "DATA": {
        if (this.sizer) {
          const probe = this.sizer.onData(f.data.length);
          if (probe !== null) this.ping(probe);
        }
        const s = this.streams.get(f.stream);
        // Bytes after the stream's END, or none at all, are dropped: they carried nothing.
        if (!s || s.remoteDone || !f.data.length) return this.nothing();
        if (!s.onData(f.data)) {
          // The peer ignored its credit: one stream's fault, but it breaks the memory bound, so it is fatal.
          throw new ProtocolError("flow_control", `stream ${f.stream} received more than its window`);
        }
        // Work gives one back; a tiny frame joined to its stream's others (stream.ts, SMALL_DATA) was a copy: nothing, so
        // a relay cannot pay for PINGs with 1-byte DATA. Neither is charged: an honest relay forwards a client's tiny chunks so.
        if (f.data.length >= SMALL_DATA || !s.joining) this.idle--;
        return;
      }
      case "END": {
        const s = this.streams.get(f.stream);
        if (!s || s.remoteDone) return this.nothing();
        s.onEnd();
        return;
      }
      case "RESET": {
        const s = this.streams.get(f.stream);
        if (!s) return this.nothing();
        // Premature, as Envoy counts them: before the answer's head, and in the tick the stream opened or the next one (a
        // client that gave up on a slow model after seconds is not a flood; a stream that lives a tick is bounded by max_streams).
        if (this.role === "agent" && !s.answered && s.openedTick + 1 >= this.ticks) this.resetEarly();
        s.onReset(f.body.code, f.body.reason);
        return;
      }
      case "WINDOW_UPDATE": {
        const s = this.streams.get(f.stream);
        if (!s?.onWindowUpdate(f.increment)) this.nothing();
        return;
      }
      case "RESUME":
        if (this.role !== "relay" || !this.opts.onResume) throw new ProtocolError("unexpected_frame", "RESUME without the resume capability, or sent to the agent");
        this.opts.onResume(f.body.token, f.body.sent);
        return;
      case "RESUMED":
        if (this.role !== "agent" || !this.opts.onResumed) throw new ProtocolError("unexpected_frame", "RESUMED without the resume capability, or sent to the relay");
        if (f.stream % 2 !== 1 || this.streams.has(f.stream)) throw new ProtocolError("bad_stream_id", `RESUMED on stream ${f.stream}, which is not a free relay-opened id`);
        // One for a token the agent does not hold is answered with a RESET, like a stream past max_streams.
        if (this.peerStoppedReading()) return;
        if (!this.opts.onResumed(f.stream, f.body.token, f.body.offset, f.body.window)) this.nothing();
        return;
      case "RESUME_REFUSED":
        if (this.role !== "agent" || !this.opts.onResumeRefused) throw new ProtocolError("unexpected_frame", "RESUME_REFUSED without the resume capability, or sent to the relay");
        this.opts.onResumeRefused(f.body.token, f.body.reason);
        return;
    }
  }

  /**
   * One more frame that carried nothing this tick (FLOOD_BASE): past the budget, the session ends (receive() closes it,
   * protocol_error). An integer add and a compare per such frame: no clock, no timer.
   */
  private nothing(): void {
    if (++this.idle <= this.floodLimit) return;
    const peer = this.role === "agent" ? "relay" : "agent";
    // Rapid reset named first: the WebSocket close reason keeps only 120 characters.
    const resets = this.early ? `reset ${this.early} streams before their answer (rapid reset, ${FLOOD_PER_EARLY_RESET} each) and ` : "";
    throw new ProtocolError("flood", `the ${peer} ${resets}sent more than ${this.floodLimit} frames that carry nothing (PINGs, frames for streams that are not open) within a ${this.tickMs} ms heartbeat tick, beyond what its requests account for`);
  }

  /** Agent: the relay reset a stream before its answer's head (FLOOD_PER_EARLY_RESET): its head's work taken back, and as much again. */
  private resetEarly(): void {
    this.early++;
    this.idle += FLOOD_PER_EARLY_RESET - 1;
    this.nothing();
  }

  /**
   * Before writing a frame the peer asked for (a PONG, a refusal, a RESUMED's answer): true, and the session closed, when the peer left
   * UNREAD_CAP bytes unread. Asked only there, not per frame: a reading peer's frames never need it.
   */
  private peerStoppedReading(): boolean {
    const unread = this.opts.sink.backlog?.() ?? 0;
    if (unread <= UNREAD_CAP) return false;
    this.close("heartbeat_timeout", `the ${this.role === "agent" ? "relay" : "agent"} stopped reading: ${unread} bytes sent to it are unread`);
    return true;
  }

  private accept(id: number, head: RequestHead): void {
    if (id % 2 !== 1) throw new ProtocolError("bad_stream_id", `stream ${id} is not a relay-opened (odd) id`);
    if (this.streams.has(id)) throw new ProtocolError("bad_stream_id", `stream ${id} is already open`);
    if (this.draining) {
      this.nothing();
      this.sendFrame({ type: "RESET", stream: id, body: { code: "refused", reason: "the agent is going away" } });
      return;
    }
    if (this.streams.size >= this.maxStreams) {
      this.nothing();
      if (this.peerStoppedReading()) return;
      this.sendFrame({ type: "RESET", stream: id, body: { code: "refused", reason: `too many streams (limit ${this.maxStreams})` } });
      return;
    }
    // Work: a request the agent will answer (refused ones above carried nothing).
    this.idle -= FLOOD_PER_HEAD;
    const s = this.newStream(id, head.window);
    s.openedTick = this.ticks;
    // A request body: runs of tiny DATA frames are joined for its reader (stream.ts, SMALL_DATA).
    s.coalesceSmall = true;
    s.requestHead = head;
    this.opts.onStream?.(s);
  }

  /** What every stream of this session calls back (one object and closure per session, not per stream). */
  private readonly host = { sendFrame: (f: Frame) => this.sendFrame(f), release: (sid: number) => this.release(sid), fence: (sid: number) => this.fence(sid) };
  private readonly recvTarget = () => this.sizer!.target;

  /** `window`: the stream's initial credit both ways when its head named one (REQUEST_HEAD.window). */
  private newStream(id: number, window = this.window): Stream {
    // A stream opened with a smaller window keeps it until this side has measured its own (it may have received no
    // DATA yet): growing it to the unmeasured 512 KiB at the first read would undo what the head's window was for.
    const sizer = this.sizer;
    const target = !sizer ? undefined : window === this.window ? this.recvTarget : () => (sizer.measured ? sizer.target : window);
    // Such a stream's credit may also be the peer's window growing back to 512 KiB: not all of it acknowledges bytes.
    const s = new Stream(id, this.host, window, target, window === this.window ? 0 : INITIAL_WINDOW - window);
    this.streams.set(id, s);
    return s;
  }

  private release(id: number): void {
    this.streams.delete(id);
    this.checkDrained();
  }

  sendFrame(f: Frame): void {
    if (this.closedInfo) return;
    this.write(encode(f), f.stream);
    // Credit is what the peer's sender waits for: it leaves now (with whatever was queued before it), not a turn later.
    // WELCOME leaves alone and first: the agent reads it as one frame, before it knows that the relay speaks BATCH
    // (a call waiting for this agent may open a stream in the same turn).
    if (f.type === "WINDOW_UPDATE" || f.type === "WELCOME") this.flush();
  }

  /** Every outgoing frame passes here and through the scheduler, so a stream's frames keep their order. */
  private write(bytes: Uint8Array, stream: number): void {
    this.sched.push(bytes, stream);
    if (!this.opts.batch || bytes.length >= BATCH_ITEM_MAX) return this.flush();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the promise jobs of this turn too, so a head and the body parts that follow it share one message.
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** The transport drained (Bun's drain event): queued DATA may go on. */
  drained(): void {
    if (this.sched.pending) this.flush();
  }

  /**
   * Hands the transport what may leave now: every urgent frame, then queued DATA by round robin while the transport's
   * backlog stays under BACKLOG_MARK. What is left waits for drained() or the next look.
   */
  private flush(): void {
    if (this.closedInfo) return;
    this.emit(this.sched.takeUrgent());
    const backlog = this.opts.sink.backlog;
    if (!backlog) {
      // A transport that cannot say: nothing is held back.
      for (let f = this.sched.next(); f && !this.closedInfo; f = this.sched.next()) this.emit([f]);
      return;
    }
    for (;;) {
      if (this.closedInfo) return;
      if (backlog() >= BACKLOG_MARK) {
        this.sched.blocked = true;
        if (this.sched.pending && this.drainPoll === null) {
          this.drainPoll = setTimeout(() => {
            this.drainPoll = null;
            this.flush();
          }, 1);
        }
        return;
      }
      const group: Uint8Array[] = [];
      let bytes = 0;
      for (let f = this.sched.next(); f; f = bytes < BACKLOG_MARK ? this.sched.next() : null) {
        group.push(f);
        bytes += f.length;
      }
      if (!group.length) {
        this.sched.blocked = false;
        return;
      }
      this.emit(group);
    }
  }

  /** Writes frames as messages: small ones together in BATCHes (when the peer reads them), big ones alone. */
  private emit(frames: Uint8Array[]): void {
    const sink = this.opts.sink;
    if (!this.opts.batch || frames.length === 1) {
      for (const f of frames) if (!this.closedInfo) sink.send(f);
      return;
    }
    let from = 0;
    let size = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      if (f.length >= BATCH_ITEM_MAX || size + 4 + f.length > MAX_BATCH) {
        this.sendGroup(frames, from, i);
        from = i;
        size = 0;
        if (f.length >= BATCH_ITEM_MAX) {
          if (!this.closedInfo) sink.send(f);
          from = i + 1;
          continue;
        }
      }
      size += 4 + f.length;
    }
    this.sendGroup(frames, from, frames.length);
  }

  /** frames[from, to) as one message: the frame itself when alone, else a BATCH. */
  private sendGroup(frames: Uint8Array[], from: number, to: number): void {
    if (to <= from || this.closedInfo) return;
    this.opts.sink.send(to - from === 1 ? frames[from]! : encodeBatch(from === 0 && to === frames.length ? frames : frames.slice(from, to)));
  }

  private ping(opaqueValue: number): void {
    this.sendFrame({ type: "PING", stream: 0, opaque: opaqueBytes(opaqueValue) });
  }

  /**
   * Resolves with null once the peer has read every frame written so far on stream `id` (a PING written after them,
   * behind that stream's queued DATA, came back as PONG: the transport is ordered and the peer answers in order);
   * with the session's error when the session ends first. A held answer waits for this after its END
   * (docs/protocol.md, Resume): the relay's credit acknowledges bytes, nothing acknowledges the END.
   */
  fence(id: number): Promise<StreamError | null> {
    if (this.closedInfo) return Promise.resolve(this.closedError(this.closedInfo));
    const opaque = FENCE_BASE + ++this.fenceSeq;
    return new Promise((resolve) => {
      this.fences.set(opaque, resolve);
      this.write(encode({ type: "PING", stream: 0, opaque: opaqueBytes(opaque) }), id);
    });
  }

  // ---- streams (relay side) ----

  /** Opens a stream with a request head. Throws when the session is closed or going away. */
  open(head: RequestHead): Stream {
    if (this.role !== "relay") throw new Error("only the relay opens streams");
    if (this.closedInfo) throw new StreamError("session_closed", `the tunnel session is closed (${this.closedInfo.reason})`, false);
    if (this.goingAway) throw new StreamError("refused", "the tunnel session is going away", false);
    if (this.nextId > MAX_STREAM_ID) throw new StreamError("refused", "stream ids exhausted; reconnect", false);
    // The agent would refuse the head (and count it against the flood budget): the caller waits for a stream instead
    // (the relay's share of streams is held to this limit, so this only backs that count up).
    const peerMax = this.opts.peerMaxStreams;
    if (peerMax !== undefined && this.streams.size >= peerMax) throw new StreamError("refused", `the agent takes ${peerMax} streams at once ([tunnel] max_streams) and all are in use`, false);
    const id = this.nextId;
    const window = this.headWindow();
    // Encoded first: a head the agent would refuse throws here, for this request only, before a stream exists.
    const bytes = encode({ type: "REQUEST_HEAD", stream: id, body: window === undefined ? head : { ...head, window } });
    this.nextId += 2;
    const s = this.newStream(id, window);
    this.write(bytes, id);
    return s;
  }

  /**
   * Relay: the initial window a new stream names (REQUEST_HEAD / RESUMED window), when the agent reads it and it is below
   * 512 KiB: the measured one, or until there is one the previous session's. A new bulk stream then puts no more than
   * the link's bandwidth-delay product ahead of a chat.
   */
  private headWindow(): number | undefined {
    if (!this.opts.windowHeads || !this.sizer) return undefined;
    const w = this.sizer.measured ? this.sizer.target : (this.opts.firstWindow ?? INITIAL_WINDOW);
    return w < INITIAL_WINDOW ? w : undefined;
  }

  /** The window this session measured (null before a measurement, or with a fixed window): the next session's firstWindow. */
  get measuredWindow(): number | null {
    return this.sizer?.measured ? this.sizer.target : null;
  }

  /** Relay: takes over the answer the agent offered under `token` on a new stream, from byte `offset` of its body. */
  resumeStream(token: string, offset: number): Stream {
    if (this.role !== "relay") throw new Error("only the relay takes a stream over");
    if (this.closedInfo) throw new StreamError("session_closed", `the tunnel session is closed (${this.closedInfo.reason})`, false);
    if (this.nextId > MAX_STREAM_ID) throw new StreamError("refused", "stream ids exhausted; reconnect", false);
    const id = this.nextId;
    this.nextId += 2;
    const window = this.headWindow();
    const s = this.newStream(id, window);
    this.sendFrame({ type: "RESUMED", stream: id, body: window === undefined ? { token, offset } : { token, offset, window } });
    return s;
  }

  /** Agent: the stream for a RESUMED id (see onResumed), with the window it named; its request side is over already. */
  adopt(id: number, window?: number): Stream {
    const s = this.newStream(id, window);
    // Its head crossed in an earlier session: a RESET now (its client left) is not a stream given up before its answer.
    s.answered = true;
    s.onEnd();
    return s;
  }

  // ---- heartbeats ----

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => this.onTick(), this.tickMs);
  }

  private onTick(): void {
    this.timer = null;
    if (this.closedInfo) return;
    const now = this.clock.now();
    const stalled = this.sinceTick();
    mark(this.clock, this.lastTick);
    if (stalled > this.toleranceMs) {
      this.stalledMs = stalled;
      mark(this.clock, this.stalledAt);
    }
    const silent = Math.round(elapsedSince(this.clock, this.lastReceived));
    if (silent > this.toleranceMs) {
      this.close("heartbeat_timeout", `no frame from the peer for ${silent} ms (tolerance ${this.toleranceMs} ms)`);
      return;
    }
    if (this.opts.stallMs) this.sweepStalls(this.opts.stallMs);
    this.idle = 0;
    this.early = 0;
    this.ticks++;
    if (elapsedSince(this.clock, this.lastPing) >= this.heartbeatMs) {
      mark(this.clock, this.lastPing);
      // A heartbeat is also a probe of the idle round trip when none is in flight (the window's delay term).
      this.ping(this.sizer?.probe() ?? now);
    }
    this.schedule();
  }

  /**
   * Resets the streams the peer left waiting `ms` or longer: a relay that sends a request's head and never its body (or
   * its END), or gives an answer no credit, held one of max_streams and the upstream request behind it for good. No
   * work per frame: each tick compares every stream's progress with what it saw at the last one. The monotonic clock:
   * a laptop's sleep is not the peer's stall.
   */
  private sweepStalls(ms: number): void {
    const now = this.clock.monotonic?.() ?? this.clock.now();
    this.expireFences(ms, now);
    for (const s of this.streams.values()) {
      const what = s.waitingOnPeer();
      const progress = s.progress;
      if (!what || progress !== s.stallProgress || !s.stallSince) {
        s.stallProgress = progress;
        s.stallSince = what ? now : 0;
        continue;
      }
      if (now - s.stallSince < ms) continue;
      const secs = `${Math.round(ms / 100) / 10} s`;
      const reason = what === "body" ? `the relay sent nothing more of the request for ${secs}` : `the relay gave the answer no credit for ${secs} (its client stopped reading)`;
      s.reset("timeout", reason);
      this.opts.onStall?.(reason);
    }
  }

  /**
   * A fence the peer has not answered for `ms` is given up: its waiter gets a `timeout` error (a held answer then stops
   * waiting and forgets its tail). A relay that answers heartbeats but no fence otherwise kept one waiter, and the
   * answer it holds, per answer for the whole session. Fences are written in order, so each sweep notes the last one.
   */
  private expireFences(ms: number, now: number): void {
    this.fenceMarks.push({ opaque: FENCE_BASE + this.fenceSeq, at: now });
    while (this.fenceMarks.length && now - this.fenceMarks[0]!.at >= ms) {
      const upTo = this.fenceMarks.shift()!.opaque;
      for (const [opaque, done] of this.fences) {
        if (opaque > upTo) break;
        this.fences.delete(opaque);
        done(new StreamError("timeout", `the relay did not acknowledge the answer's end within ${ms} ms`, false));
      }
    }
  }

  // ---- ending ----

  /** Graceful close: GO_AWAY, no new streams, in-flight ones get `graceMs` to finish, then the connection closes. */
  goAway(reason: string, graceMs: number): Promise<void> {
    if (this.closedInfo) return Promise.resolve();
    if (!this.draining) {
      this.draining = true;
      this.sendFrame({ type: "GO_AWAY", stream: 0, body: { code: "normal", reason } });
    }
    return new Promise<void>((resolve) => {
      this.drainResolve = resolve;
      this.drainTimer = this.clock.setTimeout(() => {
        this.close("normal", `${reason} (grace period over)`);
      }, graceMs);
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    // Only our own GO_AWAY closes on drain; after the peer's, the peer closes once it is done.
    if (this.draining && this.streams.size === 0 && !this.closedInfo) this.close("normal", "going away: all streams finished");
  }

  /** Ends the session now: every stream fails, the peer gets GO_AWAY (unless it sent one), the connection closes. */
  close(code: GoAwayCode, reason: string, remote = false): void {
    if (this.closedInfo) return;
    if (!remote && !(this.draining && code === "normal")) this.sendFrame({ type: "GO_AWAY", stream: 0, body: { code, reason } });
    // What is urgent leaves (the GO_AWAY); queued DATA of streams that are failing now does not.
    this.emit(this.sched.takeUrgent());
    this.closing = { code, reason, remote };
    this.opts.sink.close(CLOSE_CODES[code].code, `${code}: ${reason}`.slice(0, 120));
    this.finish(this.closing);
  }

  /** What a stream of this session fails with once it closed. */
  private closedError(info: SessionCloseInfo): StreamError {
    // The agent leaving on purpose (its own close or GO_AWAY) ends its answers for good; a lost connection, or the relay
    // moving the agent elsewhere, leaves resumable ones to be resumed.
    const final = this.role === "relay" ? this.peerLeaving : this.draining || (!info.remote && info.code === "normal");
    const late = final ? 0 : this.lateBy();
    return new StreamError("session_closed", `the tunnel connection closed (${info.code}: ${info.reason})`, info.remote, final, late);
  }

  /** How far past its tick the heartbeat tick is now (ms): about 0 while this process runs. */
  private sinceTick(): number {
    return Math.round(elapsedSince(this.clock, this.lastTick)) - this.tickMs;
  }

  /**
   * How long ago a loss noticed now was due (0: noticed in time). Frozen (SIGSTOP, a VM paused) or without CPU, this side
   * notices only once it runs again, while the peer, hearing nothing from it, declared the session dead a tolerance after
   * it stopped; frames the peer sent meanwhile may be read on waking, before the tick runs, so the tick's own gap counts
   * too (the one it sees now, or one it saw within the last tolerance), besides the peer's silence.
   */
  private lateBy(): number {
    const silence = Math.round(elapsedSince(this.clock, this.lastReceived)) - this.tickMs;
    const stall = Math.max(this.sinceTick(), elapsedSince(this.clock, this.stalledAt) <= this.toleranceMs ? this.stalledMs : 0);
    return Math.max(0, Math.max(silence, stall) - this.toleranceMs);
  }

  private finish(info: SessionCloseInfo): void {
    if (this.closedInfo) return;
    this.closedInfo = info;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    if (this.drainTimer !== null) this.clock.clearTimeout(this.drainTimer);
    if (this.drainPoll !== null) clearTimeout(this.drainPoll);
    const err = this.closedError(info);
    for (const s of [...this.streams.values()]) s.fail(err);
    this.streams.clear();
    for (const done of this.fences.values()) done(err);
    this.fences.clear();
    this.drainResolve?.();
    this.opts.onClose?.(info);
  }
}

function opaqueBytes(value: number): Uint8Array {
  const opaque = new Uint8Array(8);
  new DataView(opaque.buffer).setFloat64(0, value);
  return opaque;
}

// The agent's answers that outlive their session: each body is read from the upstream into a ResumeBuffer and sent
// from there; when the session ends, the answer waits (the upstream keeps generating, bounded) for the relay to take it
// over on a new session (RESUME / RESUMED), and replays what the relay had not received. See docs/protocol.md, Resume.
import { noteResumed, resumeMarkFor, type ResumeMark } from "../core/resume-marks.ts";
import { agreedResumeWindow } from "./handshake.ts";
import { ResumeBuffer } from "./resume-buffer.ts";
import type { ResponseHead } from "./messages.ts";
import type { Session } from "./session.ts";
import { StreamError, type Stream } from "./stream.ts";

export interface ResumeLimits {
  /** How long an answer waits for the relay to take it over after its session ended. */
  windowMs: number;
  /** Unacknowledged bytes held per answer; past it the upstream is read no further until the relay acknowledges. */
  perStreamBytes: number;
  /** The same, for all answers together. */
  perSessionBytes: number;
}

/** What the agent counts (src/tunnel/metrics.ts). */
export interface ResumeEvents {
  resumed?(replayedBytes: number): void;
  /** The new stream a resumed answer goes on over: counted like a stream the relay opened (bytes, in flight). */
  stream?(s: Stream): void;
  failed?(reason: string): void;
}

export const DEFAULT_RESUME_LIMITS: ResumeLimits = { windowMs: 60_000, perStreamBytes: 4 * 1024 * 1024, perSessionBytes: 64 * 1024 * 1024 };

/** 128 random bits as 22 base64url characters: a token nobody can guess (src/protocol/messages.ts RESUME_TOKEN). */
export function newResumeToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url");
}

/** Every answer this agent holds for resume, and the session offers go to. One per tunnel connection's lifetime (the TunnelService). */
export class AnswerResumes {
  private readonly held = new Map<string, HeldAnswer>();
  private live: Session | null = null;
  /** The resume window the live session's relay announced in WELCOME. */
  private relayWindowMs: number | undefined;
  /** Bytes held by all answers. */
  bufferedBytes = 0;
  /**
   * Answers whose last frame was sent and whose acknowledgement (the fence's PONG) has not come, oldest first. Their
   * tails count against the per-session bound: a relay that acknowledged nothing (no credit, no fence) made every
   * answer that fit its window stay held until the session ended, 500 of them 290 MiB of the agent's memory.
   */
  private readonly unacknowledged = new Set<HeldAnswer>();
  private readonly roomWaiters = new Set<() => void>();

  constructor(
    private bounds: ResumeLimits = DEFAULT_RESUME_LIMITS,
    readonly events: ResumeEvents = {},
  ) {}

  get limits(): ResumeLimits {
    return this.bounds;
  }

  /** How long an answer that loses its session now waits: ours, or the relay's when shorter (no client waits longer). */
  get windowMs(): number {
    return agreedResumeWindow(this.bounds.windowMs, this.relayWindowMs);
  }

  /**
   * A reload changed [tunnel] resume_window: the registry stays (its answers are still offered on the next session);
   * the new window applies to answers that lose their session from now on, one already waiting keeps the one it began.
   */
  setWindow(windowMs: number): void {
    if (windowMs !== this.bounds.windowMs) this.bounds = { ...this.bounds, windowMs };
  }

  get size(): number {
    return this.held.size;
  }

  /** The tokens of the answers held now (for tests and diagnostics; never logged). */
  tokens(): string[] {
    return [...this.held.keys()];
  }

  /** Holds the answer to `s` (a stream of a session that negotiated "resume"); it is registered once it has a token. */
  hold(s: Stream): HeldAnswer {
    return new HeldAnswer(this, s);
  }

  /** @internal The answer's head (with its token) is being sent: from now on it may be resumed. */
  register(a: HeldAnswer, token: string): void {
    this.held.set(token, a);
  }

  /**
   * A new session that negotiated "resume": answers waiting for one are offered on it. `relayWindowMs`: the relay's
   * resume window (its WELCOME), absent from an older relay.
   */
  attach(session: Session, relayWindowMs?: number): void {
    this.live = session;
    this.relayWindowMs = relayWindowMs;
    for (const a of this.held.values()) if (a.waiting) this.offer(a);
  }

  /** The relay took the answer held under `token` over on stream `id`: it goes on there, or the stream is refused. */
  /** false: no answer is held there (the session counts the RESUMED as a frame that carried nothing). */
  resumed(session: Session, id: number, token: string, offset: number, window?: number): boolean {
    const a = this.held.get(token);
    if (!a || !a.canResume(offset)) {
      // Unknown token (another tunnel's, a forgotten answer) or an offset this answer cannot go on from.
      session.sendFrame({ type: "RESET", stream: id, body: { code: "refused", reason: "no answer is held under this token from this offset" } });
      return false;
    }
    const s = session.adopt(id, window);
    this.events.stream?.(s);
    a.resume(s, offset);
    return true;
  }

  /** The tunnel stops on purpose (stopped, reconfigured, daemon shutdown): answers waiting for a resume end now. */
  abandonAll(reason: string): void {
    for (const a of [...this.held.values()]) a.abandon(new StreamError("session_closed", reason, false, true));
  }

  /** The relay said no client waits for the answer held under `token` (a relay restarted, say): it ends now. */
  refused(token: string, reason: string): void {
    const a = this.held.get(token);
    if (!a?.waiting) return;
    // An answer whose last frame was sent was most likely read whole by the relay before the session went: no failure.
    if (!a.ended) this.events.failed?.("refused");
    a.abandon(new StreamError("session_closed", `the relay will not resume this answer: ${reason}`, true, true));
  }

  /** @internal An answer lost its session: offer it on the live one, if any (a later attach() offers it otherwise). */
  offer(a: HeldAnswer): void {
    const s = this.live;
    if (s && !s.closed && a.token) s.sendFrame({ type: "RESUME", stream: 0, body: { token: a.token, sent: a.sentBytes } });
  }

  /** @internal */
  forget(a: HeldAnswer): void {
    if (a.token) this.held.delete(a.token);
  }

  /** @internal */
  grow(n: number): void {
    this.bufferedBytes += n;
    if (this.bufferedBytes > this.bounds.perSessionBytes && this.unacknowledged.size) this.settleOldest();
  }

  /** @internal The answer's last frame is out; it waits for the relay to read it (or stops waiting: settled). */
  ending(a: HeldAnswer, waiting: boolean): void {
    if (!waiting) this.unacknowledged.delete(a);
    else {
      this.unacknowledged.add(a);
      if (this.bufferedBytes > this.bounds.perSessionBytes) this.settleOldest();
    }
  }

  /**
   * Over the per-session bound: the answers sent whole longest ago stop waiting for their acknowledgement and are
   * forgotten (an answer that is still being generated never is). Were the session lost now, such an answer could not
   * be replayed and its client gets the error line; a relay that reads what it is sent acknowledges within a round trip.
   */
  private settleOldest(): void {
    for (const a of this.unacknowledged) {
      if (this.bufferedBytes <= this.bounds.perSessionBytes) return;
      a.settle();
    }
  }

  /** @internal */
  shrink(n: number): void {
    if (!n) return;
    this.bufferedBytes -= n;
    for (const w of [...this.roomWaiters]) w();
  }

  /** @internal Resolves once some answer freed bytes (or after a while: a check, not a promise that may never settle). */
  room(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.roomWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, 250);
      this.roomWaiters.add(done);
    });
  }
}

/** One answer held for resume: attached to a stream, or waiting (for the resume window) for the relay to take it over. */
export class HeldAnswer {
  /**
   * Made when the head that carries it is sent (answer()). A small answer read whole (answerWhole) never gets one, nor
   * a mark or a buffer: most answers cost no random bytes, no registry entry and no WeakMap entry.
   */
  token: string | null = null;
  private readonly ctl = new AbortController();
  /** The request's signal: aborted when the answer is over for good (cancelled, failed, not resumed in time), not when only its session ended. */
  readonly signal = this.ctl.signal;
  /** What the request's record shows (the dashboard's inspector marks a resumed request); made with the token. */
  private mark: ResumeMark | null = null;
  private stream: Stream | null;
  private headSent = false;
  private finished = false;
  private readonly buf = new ResumeBuffer();
  /** Body offset written to the current stream, and where that stream began. */
  private sent = 0;
  private base = 0;
  /** Body bytes sent so far (RESUME names them: the relay counts what it replays as the agent does, resume()). */
  get sentBytes(): number {
    return this.sent;
  }
  private upstreamDone = false;
  private upstreamError: unknown = undefined;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private windowTimer: ReturnType<typeof setTimeout> | null = null;
  private wakeSender: (() => void) | null = null;
  /** The answer's last frame (END, or RESET after an upstream error) was written at least once. */
  private lastSent = false;
  /** Why the answer stops once that frame was read: null for a whole body, the upstream's error otherwise. */
  private lastReason: unknown = null;

  constructor(
    private readonly r: AnswerResumes,
    s: Stream,
  ) {
    this.stream = s;
    this.watch(s);
  }

  /** Detached from its session and waiting to be taken over. */
  get waiting(): boolean {
    return !this.finished && this.stream === null;
  }

  canResume(offset: number): boolean {
    return this.waiting && offset >= this.buf.start && offset <= this.sent;
  }

  /** Sends the head (with this answer's token) and the body, across sessions, until the body ends or the answer fails. */
  async answer(head: ResponseHead, body: ReadableStream<Uint8Array> | null): Promise<void> {
    const s = this.stream;
    if (!s || this.finished) {
      body?.cancel().catch(() => {});
      return this.stop(new StreamError("cancel", "the stream ended before the answer", false));
    }
    const token = (this.token = newResumeToken());
    // Before the body: the request's record (made when the body ends) carries the mark by reference.
    this.mark = resumeMarkFor(this.signal);
    try {
      s.respond({ ...head, resume: token });
    } catch (e) {
      // A head the relay would refuse (see encode()) fails this stream, not the session.
      body?.cancel().catch(() => {});
      s.reset("internal", e instanceof Error ? e.message : String(e));
      return this.stop(e);
    }
    this.headSent = true;
    this.r.register(this, token);
    if (!body) this.upstreamDone = true;
    else this.reader = body.getReader();
    await this.run(this.reader);
  }

  /**
   * A small answer read whole: head, DATA and END leave in one turn, together (http-over-stream.ts WHOLE_ANSWER_BYTES).
   * Nothing is left to generate, so nothing is held: the head carries no token (a relay that lost the session then ends
   * the answer at once, instead of waiting the resume window for an offer that cannot come).
   */
  async answerWhole(head: ResponseHead, body: Uint8Array): Promise<void> {
    const s = this.stream;
    if (!s || this.finished) return this.stop(new StreamError("cancel", "the stream ended before the answer", false));
    try {
      s.respond(head);
    } catch (e) {
      s.reset("internal", e instanceof Error ? e.message : String(e));
      return this.stop(e);
    }
    // headSent stays false: the relay has no token for this answer, so a lost session ends it (streamFailed).
    const sent = await s.send(body);
    this.stop(sent ? null : new StreamError("cancel", "the stream ended before the answer was sent", false));
  }

  private watch(s: Stream): void {
    s.onFailure((err) => this.streamFailed(s, err));
  }

  private streamFailed(s: Stream, reason: unknown): void {
    // After the last frame only its acknowledgement decides (lastFrameSent): the stream fails by its own RESET then.
    if (s !== this.stream || this.finished || this.lastSent) return;
    this.detach(s, reason);
  }

  /** `s` is gone: a lost session leaves the answer waiting for a resume; anything else ends it. */
  private detach(s: Stream, reason: unknown): void {
    this.stream = null;
    // Only the loss of the session is resumed; a reset (the client went away, a refusal) ends the answer. Before the
    // head crossed the relay has no token to resume with; an upload cut short is not resumed (it fails cleanly).
    const lost = reason instanceof StreamError && reason.code === "session_closed" && !reason.final;
    if (!lost || !this.headSent || !s.remoteDone) return this.stop(this.lastSent ? this.lastReason : reason);
    const windowMs = this.r.windowMs;
    // Counted from when the loss was due: an agent frozen or asleep past it (a laptop's lid closed) notices only on
    // waking, when the relay's window has run too; its generation then stops at once, not a whole window later.
    this.windowTimer = setTimeout(() => {
      // An answer whose last frame was sent may have reached the relay whole (only the acknowledgement was lost): the
      // relay counts it if it did not; here it is not counted as failed.
      if (!this.lastSent) this.r.events.failed?.("window");
      this.stop(this.lastSent ? this.lastReason : new StreamError("session_closed", `not resumed within the resume window (${windowMs} ms)`, false));
    }, Math.max(0, windowMs - reason.lateMs));
    this.r.offer(this);
    this.wake();
  }

  /**
   * Writes the answer's last frame (END for a whole body, RESET after an upstream error) and holds the answer until the
   * relay has read it; a session lost first leaves it to a resume like any other (docs/protocol.md, Resume, rule 2).
   */
  private async lastFrame(s: Stream, reason: unknown): Promise<void> {
    this.lastSent = true;
    this.lastReason = reason;
    if (reason === null) s.end();
    else s.reset("cancel", reason instanceof Error ? reason.message : String(reason));
    this.r.ending(this, true);
    const lost = await s.acknowledged();
    this.r.ending(this, false);
    if (this.finished || s !== this.stream) return;
    if (!lost) return this.stop(reason);
    this.detach(s, lost);
  }

  /** Whether the answer's last frame was sent (an offer the relay refuses may simply have been whole there). */
  get ended(): boolean {
    return this.lastSent;
  }

  /** The relay took this answer over on `s`, from body offset `offset` (checked by canResume). */
  resume(s: Stream, offset: number): void {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    this.r.events.resumed?.(this.sent - offset);
    if (this.mark) noteResumed(this.mark, this.sent - offset);
    this.r.shrink(this.buf.dropTo(offset));
    this.stream = s;
    this.base = offset;
    this.sent = offset;
    // The last frame goes again, after the replay, on this stream.
    this.lastSent = false;
    this.watch(s);
    this.wake();
  }

  /**
   * One loop, one read at a time: attached, it reads a chunk and writes it (as pump() would), after replaying what the
   * relay had not received; detached, it goes on reading the upstream into the buffer within the bounds (past them the
   * upstream waits: its own backpressure) until a resume, the window's end or a refusal.
   */
  private async run(reader: ReadableStreamDefaultReader<Uint8Array> | null): Promise<void> {
    const { perStreamBytes, perSessionBytes } = this.r.limits;
    for (;;) {
      if (this.finished) return;
      const s = this.stream;
      if (s && this.sent < this.buf.end) {
        const chunk = this.buf.from(this.sent);
        const base = this.sent - s.bytesOut;
        try {
          await s.write(chunk);
        } catch {
          // The stream failed (streamFailed() decided what happens next) perhaps halfway through the chunk, its credit
          // spent: what did leave may have reached the relay, whose offset then lies past the chunk's start.
          if (this.stream === null) this.sent = Math.max(this.sent, base + s.bytesOut);
          continue;
        }
        if (s === this.stream) {
          this.sent += chunk.length;
          // Credit acknowledges bytes delivered; a relay that returns more than was sent is not believed (the bytes not
          // sent yet stay held, or the replay after a resume would lose them).
          this.r.shrink(this.buf.dropTo(Math.min(this.base + s.bytesAcked, this.sent)));
        }
        continue;
      }
      if (s && (this.upstreamDone || this.upstreamError !== undefined)) {
        await this.lastFrame(s, this.upstreamDone ? null : this.upstreamError);
        continue;
      }
      const bounded = this.buf.size >= perStreamBytes || this.r.bufferedBytes >= perSessionBytes;
      if (!reader || this.upstreamDone || this.upstreamError !== undefined || (!s && bounded)) {
        // Nothing to do until a resume (or the window's end); or, past a bound, until acknowledgements free room.
        await Promise.race([new Promise<void>((r) => (this.wakeSender = r)), ...(bounded ? [this.r.room()] : [])]);
        continue;
      }
      try {
        const { value, done } = await reader.read();
        if (done) this.upstreamDone = true;
        else if (value.length) {
          this.buf.push(value);
          this.r.grow(value.length);
        }
      } catch (e) {
        // A body failed without an Error (the broker's way to cut an answer it cannot finish in-band) still gets a reason.
        this.upstreamError = e ?? new Error("the body ended before it was complete");
      }
    }
  }

  private wake(): void {
    const w = this.wakeSender;
    this.wakeSender = null;
    w?.();
  }

  /** @internal Stops waiting for the relay to acknowledge the last frame (see AnswerResumes.settleOldest). */
  settle(): void {
    if (this.lastSent) this.stop(this.lastReason);
  }

  /** Ends an answer waiting for a resume that will not come. */
  abandon(reason: StreamError): void {
    if (this.waiting) this.stop(reason);
  }

  /** Over for good: `reason` null when the body was sent whole; otherwise the upstream is stopped. */
  private stop(reason: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.r.ending(this, false);
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    this.r.forget(this);
    this.r.shrink(this.buf.dropTo(this.buf.end));
    if (reason !== null) {
      this.ctl.abort(reason);
      this.reader?.cancel(reason).catch(() => {});
    }
    this.wake();
  }
}

// One multiplexed stream: a web ReadableStream of the peer's DATA and a WritableStream that sends ours, both under credit windows.
import { DATA_CHUNK, type Frame, type RequestHead, type ResetCode, type ResponseHead } from "./messages.ts";
import { noteBulkBytes } from "./bulk-gc.ts";
import { RecvWindow, SendWindow } from "./flow-control.ts";

/**
 * Received chunks kept apart before they are folded into one buffer. The window bounds queued bytes, not frames: a peer
 * sending 1-byte DATA frames would otherwise pin one object and one message buffer per byte of credit.
 */
const MAX_QUEUED_CHUNKS = 1024;
/** Why a request body stops being sent: the answer came whole first (thrown to the pump, never to a caller). */
const ANSWERED = new Error("the answer was complete before the request body was sent");

/**
 * A stream that coalesces (Stream.coalesceSmall: the agent's request bodies) wakes its reader at once for its first
 * EAGER_SMALL DATA frames under SMALL_DATA bytes (a small body is one frame: no delay), and past them once a turn: the
 * frames of that turn are copied into one buffer of up to COALESCE_BYTES, which the reader takes as one chunk. A relay
 * sending 1-byte frames made every byte its own chunk, woken, read, credited and held by the broker on its own (a
 * promise chain and a pinned message buffer each: the daemon's loop ran 640,000 of them in one turn, 2–4 s, and a
 * local /api/tags waited behind them); an honest relay forwards a client's tiny chunks the same way, so they are
 * joined, not refused (docs/protocol.md, Flow control).
 */
export const SMALL_DATA = 1024;
const EAGER_SMALL = 16;
const COALESCE_BYTES = 16 * 1024;

/** What a stream needs from its session. */
export interface StreamHost {
  sendFrame(f: Frame): void;
  /** Called once when the stream has nothing left to do (both ends done, or reset). */
  release(id: number): void;
  /** Resolves with null once the peer has read this stream's frames written so far (Session.fence); absent: at once. */
  fence?(id: number): Promise<StreamError | null>;
}

/** The stream was reset (by us or the peer) or its session ended. */
export class StreamError extends Error {
  constructor(
    readonly code: ResetCode,
    message: string,
    readonly byPeer: boolean,
    /** session_closed on purpose (the agent leaving: its own close, or its GO_AWAY seen by the relay): nothing will resume it. */
    readonly final = false,
    /**
     * session_closed by a loss noticed late: how long after it was due (past the heartbeat tolerance) this side noticed
     * it (a process frozen, asleep or starved of CPU notices only when it runs again: Session.lateBy). A resume window
     * counts from when the loss was due.
     */
    readonly lateMs = 0,
  ) {
    super(message);
    this.name = "StreamError";
  }
}

export class Stream {
  /** Called once when the stream fails: a lighter watch than a listener on `signal` (which is then never made). */
  private failWatchers: ((err: StreamError) => void)[] | null = null;
  /** Made on first use: the relay's side of a stream never asks for it. */
  private abort: AbortController | null = null;
  /** Aborted when the stream is reset or its session closes; the agent hands it to fetch so upstream work stops. */
  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.error) this.abort.abort(this.error);
    }
    return this.abort.signal;
  }
  /** Set on the agent side: the request the relay sent. */
  requestHead: RequestHead | null = null;
  /** Relay side: the agent's response head, or why it will not come (made on first use: the agent never asks). */
  get responseHead(): Promise<ResponseHead> {
    if (!this.headPromise) {
      this.headPromise = this.head
        ? Promise.resolve(this.head)
        : this.error
          ? Promise.reject(this.error)
          : new Promise((res, rej) => {
              this.resolveHead = res;
              this.rejectHead = rej;
            });
      this.headPromise.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
    }
    return this.headPromise;
  }
  private headPromise: Promise<ResponseHead> | null = null;
  private head: ResponseHead | null = null;
  /** Resolves once the stream is over (both ends done, or reset): for accounting and limits. Made on first use. */
  get finished(): Promise<void> {
    return (this.finishedPromise ??= this.released ? Promise.resolve() : new Promise((r) => (this.resolveFinished = r)));
  }
  private finishedPromise: Promise<void> | null = null;
  private resolveFinished: (() => void) | null = null;
  /** whenFinished()'s callback: the relay's accounting per request, without a promise and a reaction. */
  private finishWatch: (() => void) | null = null;

  /** Calls `cb` once when the stream is over (at release, or now if it is over already). One watcher per stream. */
  whenFinished(cb: () => void): void {
    if (this.finishWatch) throw new Error("a stream has one whenFinished watcher");
    if (this.released) cb();
    else this.finishWatch = cb;
  }

  private readonly sendWin: SendWindow;
  private readonly recvWin: RecvWindow;
  private queue: Uint8Array[] = [];
  /** Bytes queued, the coalescing buffer's included. */
  private queuedBytes = 0;
  /** Agent (request bodies): runs of small DATA frames are joined and read once a turn (SMALL_DATA). Set by the session. */
  coalesceSmall = false;
  /** Small DATA frames this stream received so far. */
  private smallFrames = 0;
  /** The coalescing buffer: bytes received after everything in `queue`, its first tailLen bytes; reused once read. */
  private tail: Uint8Array | null = null;
  private tailLen = 0;
  /** A reader wake is waiting for the end of this turn (setImmediate). */
  private wakeQueued = false;
  private remoteEnded = false;
  /** The peer's DATA is no longer wanted (discardIncoming): what comes is dropped as it arrives. */
  private discarding = false;
  /** pump() sends a request's body (the relay's side): the peer's END, the whole answer, makes the rest unwanted. */
  private requestBody = false;
  private localEnded = false;
  private error: StreamError | null = null;
  private wake: (() => void) | null = null;
  private resolveHead: ((h: ResponseHead) => void) | null = null;
  private rejectHead: ((e: Error) => void) | null = null;
  private released = false;
  bytesIn = 0;
  bytesOut = 0;
  /** The session's stall sweep (Session.sweepStalls): the progress it saw last, and since when it has not moved (0: not waiting). */
  stallProgress = -1;
  stallSince = 0;
  /** Credit the peer gave back in all. */
  private credited = 0;

  constructor(
    readonly id: number,
    private readonly host: StreamHost,
    window: number,
    /** The receive window as it moves (the session's measured one); fixed at `window` without it. */
    recvTarget: () => number = () => window,
    /**
     * How much the peer's window may grow beyond `window` (a stream opened with a head's window: up to 512 KiB): credit
     * that large may be growth, not bytes its reader took.
     */
    private readonly growth = 0,
  ) {
    this.sendWin = new SendWindow(window);
    this.recvWin = new RecvWindow(recvTarget, window);
  }

  private readableStream: ReadableStream<Uint8Array> | null = null;
  private writableStream: WritableStream<Uint8Array> | null = null;

  /** The peer's DATA as a web stream, made on first use (most streams never need one of the two directions). */
  get readable(): ReadableStream<Uint8Array> {
    return (this.readableStream ??= this.makeReadable(-1));
  }

  /**
   * The peer's DATA as a web stream held to exactly `length` bytes: more, or fewer before END, errors it (and a longer
   * one resets the stream). The agent reads a relay's body this way: the relay is not trusted to send what it declared.
   */
  readableExactly(length: number): ReadableStream<Uint8Array> {
    return (this.readableStream ??= this.makeReadable(length));
  }

  private makeReadable(length: number): ReadableStream<Uint8Array> {
    let seen = 0;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (c) => {
          let chunk: Uint8Array | null;
          try {
            chunk = await this.next();
          } catch (e) {
            c.error(e);
            return;
          }
          if (length >= 0) {
            seen += chunk ? chunk.length : 0;
            if (seen > length) {
              const message = `the request body is longer than its declared ${length} bytes`;
              this.reset("cancel", message);
              return c.error(new Error(message));
            }
            if (!chunk && seen !== length) return c.error(new Error(`the request body ended after ${seen} of its declared ${length} bytes`));
          }
          if (chunk) c.enqueue(chunk);
          else c.close();
        },
        cancel: (reason) => this.cancelRead(reason),
      },
      { highWaterMark: 0 },
    );
  }

  /**
   * The peer's DATA as a Bun direct stream, for a Response body: Bun's server pulls it without a JS queue and a promise
   * per chunk between the two (the relay's answer to a client). When the stream is reset or its session ends before
   * END, `onBreak` gives the body's last bytes (an error line in the caller's dialect; it sees the last byte sent, -1
   * for none) and the body ends cleanly; without them (null, or no onBreak) the body fails, so the client never takes a
   * cut answer as whole.
   */
  directReadable(onBreak?: (err: StreamError, lastByte: number) => Uint8Array | null): ReadableStream<Uint8Array> {
    let last = -1;
    let cancelled = false;
    return new ReadableStream({
      type: "direct",
      pull: async (c: { write(b: Uint8Array): unknown; flush(): unknown; close(): void }) => {
        for (;;) {
          let chunk: Uint8Array | null;
          try {
            chunk = await this.next();
          } catch (e) {
            if (cancelled) return;
            if (!onBreak || !(e instanceof StreamError)) throw e;
            const tail = onBreak(e, last);
            // onBreak logged why: failed with undefined, not the Error, which Bun would print as a multi-line stack dump.
            if (tail === null) throw undefined;
            c.write(tail);
            c.close();
            return;
          }
          if (!chunk) break;
          last = chunk[chunk.length - 1]!;
          // write() returns a promise while the client reads slower than the agent sends: waiting on it is what keeps
          // the credit (and so the agent's upstream) back; flush() alone never waits (a stalled reader grew the relay by GBs).
          const w = c.write(chunk);
          // A number when the client keeps up: no await (a microtask per chunk) on the common path.
          if (typeof w !== "number") await w;
          await c.flush();
        }
        c.close();
      },
      cancel: (reason: unknown) => {
        cancelled = true;
        this.cancelRead(reason);
      },
    } as unknown as UnderlyingDefaultSource<Uint8Array>);
  }

  /** Our DATA as a web stream, made on first use. */
  get writable(): WritableStream<Uint8Array> {
    return (this.writableStream ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: async () => {
        if (this.error) throw this.error;
        this.end();
      },
      abort: (reason) => {
        this.reset("cancel", `writer aborted: ${reason instanceof Error ? reason.message : String(reason ?? "no reason")}`);
      },
    }));
  }

  /**
   * The next chunk of the peer's DATA, null at its END; throws the stream's error after a reset. Each chunk read gives
   * the peer its credit back.
   */
  async next(): Promise<Uint8Array | null> {
    // Joined bytes are read once their turn is over (wakeQueued cleared): a reader back first would take them one by one.
    while (!this.queue.length && !(this.tailLen && !this.wakeQueued) && !this.remoteEnded && !this.error) await new Promise<void>((r) => (this.wake = r));
    const chunk = this.queue.length ? this.queue.shift() : this.tailLen ? this.takeTail() : undefined;
    if (chunk) {
      this.queuedBytes -= chunk.length;
      const inc = this.recvWin.consume(chunk.length);
      if (inc && !this.error && !this.remoteEnded) this.host.sendFrame({ type: "WINDOW_UPDATE", stream: this.id, increment: inc });
      return chunk;
    }
    if (this.error) throw this.error;
    this.maybeRelease();
    return null;
  }

  /**
   * The peer's whole body when its END is already here (a small answer that arrived with its head, as one BATCH):
   * the received chunks in one buffer, the stream's reading done. null while more may come, or after a reset.
   */
  takeWhole(): Uint8Array | null {
    if (!this.remoteEnded || this.error) return null;
    if (this.tailLen) this.sealTail();
    const whole = this.queue.length === 1 ? this.queue[0]! : concat(this.queue, this.queuedBytes);
    this.queue = [];
    this.queuedBytes = 0;
    this.maybeRelease();
    return whole;
  }

  /**
   * Agent side, once the answer is complete: the rest of the request's body is not wanted. An answer given without
   * reading the body (a refused path or method, a missing key) left it queued, and a stream with unread bytes is never
   * released: it held one of max_streams, and up to a window of memory, for good. What is queued is dropped, and so is
   * what still comes (its credit is not given back: the window still bounds it), so the stream closes at the peer's
   * END; no RESET (the peer may still be reading the answer, which a RESET would cut).
   */
  discardIncoming(): void {
    if (this.error || this.discarding) return;
    this.discarding = true;
    this.queue = [];
    this.dropTail();
    this.queuedBytes = 0;
    this.maybeRelease();
  }

  private cancelRead(reason: unknown): void {
    if (!this.remoteEnded || this.queue.length || this.tailLen) this.reset("cancel", `reader cancelled: ${reason ?? "no reason"}`);
  }

  /**
   * What this side waits on the peer for now, or null when it waits on nobody or on its own side: the peer's DATA or END
   * while our reader waits for them (or drops what comes, the answer given), or credit for our DATA.
   */
  waitingOnPeer(): "body" | "credit" | null {
    if (this.error) return null;
    if (!this.remoteEnded && (this.wake !== null || this.discarding)) return "body";
    return this.sendWin.waiting ? "credit" : null;
  }

  /** Grows whenever the peer moves this stream on (DATA, END, credit): the stall sweep compares it between looks. */
  get progress(): number {
    return this.bytesIn + this.credited + (this.remoteEnded ? 1 : 0);
  }

  /** Why the stream failed (reset, or its session ended); null while it has not. */
  get failure(): StreamError | null {
    return this.error;
  }

  /** Calls `cb` when the stream fails (at once, in a microtask, when it already has). */
  onFailure(cb: (err: StreamError) => void): void {
    const e = this.error;
    if (e) queueMicrotask(() => cb(e));
    else (this.failWatchers ??= []).push(cb);
  }

  /** Bytes received and not yet read (bounded by the window). */
  get buffered(): number {
    return this.queuedBytes;
  }
  /** Received chunks not yet read (bounded by MAX_QUEUED_CHUNKS + 1). */
  get bufferedChunks(): number {
    return this.queue.length + (this.tailLen ? 1 : 0);
  }
  get done(): boolean {
    return this.released;
  }
  /** Our END was sent: our side (the relay: the whole request) is complete. */
  get localDone(): boolean {
    return this.localEnded;
  }
  /** The peer's END came: its side (the agent: the whole request) is complete. */
  get remoteDone(): boolean {
    return this.remoteEnded;
  }

  /** Sends one chunk as DATA frames, waiting for credit; rejects once the stream is reset. */
  async write(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.error) throw this.error;
      const want = Math.min(DATA_CHUNK, chunk.length - off);
      // Credit is usually there: skip the promise machinery on the hot path.
      const n = this.sendWin.available > 0 ? this.sendWin.takeNow(want) : await this.sendWin.take(want);
      if (this.error) throw this.error;
      this.host.sendFrame({ type: "DATA", stream: this.id, data: off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n) });
      this.bytesOut += n;
      noteBulkBytes(n);
      off += n;
    }
  }

  /** Copies a body into this stream chunk by chunk, then END; on failure the stream is reset and the source cancelled. */
  async pump(body: ReadableStream<Uint8Array>, limit = 0, onLimit?: () => void, requestBody = false): Promise<boolean> {
    const reader = body.getReader();
    this.requestBody = requestBody;
    // A reset while the source is quiet (a model still thinking) must cancel it now, not at its next chunk.
    const onAbort = () => reader.cancel(this.error ?? undefined).catch(() => {});
    this.signal.addEventListener("abort", onAbort, { once: true });
    let n = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (this.requestBody && this.remoteEnded) throw ANSWERED;
        n += value.length;
        if (limit && n > limit) {
          onLimit?.();
          throw new StreamError("refused", `body over ${limit} bytes`, false);
        }
        await this.write(value);
      }
      this.end();
      return true;
    } catch (e) {
      reader.cancel(e).catch(() => {});
      // The peer answered before our body was all sent: END what was sent (the agent drops it), the stream closes cleanly.
      if (e === ANSWERED && !this.error) {
        this.end();
        return true;
      }
      // A body failed without an Error (the broker's way to cut an answer it cannot finish in-band) still gets a reason.
      const why = e instanceof Error ? e.message : e === undefined ? "the body ended before it was complete" : String(e);
      this.reset(e instanceof StreamError && e.code === "refused" ? "refused" : "cancel", why);
      return false;
    } finally {
      this.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Sends a whole body held in memory, then END (a small body: no reader, no per-chunk promises); false when reset. */
  /**
   * send() without a promise when it can finish now: the body fits one DATA frame and its credit is there (a small
   * request body, nearly always). Null when it cannot; then send() does it.
   */
  sendNow(body: Uint8Array): boolean | null {
    if (this.error || body.length > DATA_CHUNK || this.sendWin.available < body.length) return null;
    try {
      if (body.length > 0) {
        this.sendWin.takeNow(body.length);
        this.host.sendFrame({ type: "DATA", stream: this.id, data: body });
        this.bytesOut += body.length;
      }
      this.end();
      return true;
    } catch (e) {
      this.reset("cancel", e instanceof Error ? e.message : String(e));
      return false;
    }
  }

  async send(body: Uint8Array): Promise<boolean> {
    try {
      await this.write(body);
      this.end();
      return true;
    } catch (e) {
      this.reset("cancel", e instanceof Error ? e.message : String(e));
      return false;
    }
  }

  /** Sends our END once (after the last DATA). */
  end(): void {
    if (this.localEnded || this.error) return;
    this.localEnded = true;
    this.host.sendFrame({ type: "END", stream: this.id });
    this.maybeRelease();
  }

  /**
   * Resolves with null once the peer has read every frame of ours written so far (our END included, once sent), or with
   * the session's error when it ended first: what a held answer waits for before it forgets its bytes.
   */
  acknowledged(): Promise<StreamError | null> {
    return this.host.fence?.(this.id) ?? Promise.resolve(null);
  }

  /**
   * Agent side: the answer's head was written (or, a stream adopted by RESUMED, an earlier session's was). A RESET
   * before it is a stream the relay gave up before any answer: counted by the session's flood budget (rapid reset).
   */
  answered = false;
  /** Agent side: the session's heartbeat tick this stream opened in (a reset within two ticks is a premature one). */
  openedTick = 0;

  /** Agent side: sends the response head. */
  respond(head: ResponseHead): void {
    if (this.error) return;
    this.answered = true;
    this.host.sendFrame({ type: "RESPONSE_HEAD", stream: this.id, body: head });
  }

  /** Resets the stream locally and tells the peer (unless the session is gone). */
  reset(code: ResetCode, reason: string, tellPeer = true): void {
    if (this.error) return;
    if (tellPeer && !(this.localEnded && this.remoteEnded)) this.host.sendFrame({ type: "RESET", stream: this.id, body: { code, reason } });
    this.fail(new StreamError(code, reason, false));
  }

  // ---- called by the session on incoming frames ----

  /** false: the peer overran its credit. */
  onData(data: Uint8Array): boolean {
    if (this.error || this.remoteEnded) return true; // late frames after a reset are dropped
    if (!this.recvWin.receive(data.length)) return false;
    this.bytesIn += data.length;
    noteBulkBytes(data.length);
    if (data.length && !this.discarding) {
      // One length check on the normal path (large frames); only a run of small frames on an agent's stream goes on.
      if (data.length < SMALL_DATA && this.coalesceSmall && ++this.smallFrames > EAGER_SMALL) {
        this.append(data);
        if (!this.wakeQueued) {
          this.wakeQueued = true;
          setImmediate(wakeLater, this);
        }
        return true;
      }
      if (this.tailLen) this.sealTail();
      // No copy: each WebSocket message arrives in its own buffer, and decode() hands out a view of it.
      this.queue.push(data);
      this.queuedBytes += data.length;
      // Only a run of tiny frames gets here (1024 chunks within one window): one copy of at most a window, then.
      if (this.queue.length > MAX_QUEUED_CHUNKS) this.queue = [concat(this.queue, this.queuedBytes)];
    }
    this.wakeReader();
    return true;
  }
  /** Copies a small frame into the coalescing buffer (a new one when it is full). */
  private append(data: Uint8Array): void {
    const n = data.length;
    if (this.tail && this.tailLen + n > this.tail.length) this.sealTail();
    this.tail ??= new Uint8Array(COALESCE_BYTES);
    this.tail.set(data, this.tailLen);
    this.tailLen += n;
    this.queuedBytes += n;
  }

  /** The coalescing buffer's bytes as the reader's next chunk: a copy when they fill under half of it (the buffer is kept). */
  private takeTail(): Uint8Array {
    const t = this.tail!;
    const n = this.tailLen;
    this.tailLen = 0;
    // The broker holds a body's first 64 KiB as the chunks it read: a few bytes must not pin 16 KiB each.
    if (n < t.length / 2) return t.slice(0, n);
    this.tail = null;
    return n === t.length ? t : t.subarray(0, n);
  }

  /** Moves the coalescing buffer's bytes to the queue (a larger frame follows them, or the body is taken whole). */
  private sealTail(): void {
    this.queue.push(this.takeTail());
  }

  private dropTail(): void {
    this.tail = null;
    this.tailLen = 0;
  }

  /**
   * The stream joins its small frames now (past EAGER_SMALL of them): another one is a copy into a buffer, no work of
   * its own, so the session's flood budget gets nothing back for it (docs/protocol.md, Heartbeats).
   */
  get joining(): boolean {
    return this.smallFrames > EAGER_SMALL;
  }

  /** setImmediate's callback (wakeLater): the turn's small frames are in; the reader may take them. */
  wakeCoalesced(): void {
    this.wakeQueued = false;
    this.wakeReader();
  }

  onEnd(): void {
    this.remoteEnded = true;
    // The answer is complete while our request body is still going (the agent answered without reading it all: a
    // refusal, a body too large to translate): the rest is not wanted. The agent drops it without giving credit back,
    // so a body larger than the window waited for credit that never came and held the stream until stall_timeout.
    if (this.requestBody && !this.localEnded) this.sendWin.fail(ANSWERED);
    this.wakeReader();
    this.maybeRelease();
  }
  /**
   * The bytes of ours the peer's reader surely took (what a resumable answer may forget): the credit it gave back,
   * less what may have been its window growing (docs/protocol.md, Scheduling).
   */
  get bytesAcked(): number {
    return Math.max(0, this.credited - this.growth);
  }

  /**
   * false: the credit given back in all is now more than the bytes sent (and the window's growth), which no reader
   * returns (window-sizing.ts, MAX_WINDOW): the session counts it as a frame that carried nothing.
   */
  onWindowUpdate(inc: number): boolean {
    this.credited += inc;
    this.sendWin.grant(inc);
    return this.credited <= this.bytesOut + this.growth;
  }
  /** false: the stream had its head already (or failed): this one carried nothing. */
  onResponseHead(h: ResponseHead): boolean {
    if (this.head || this.error) return false;
    this.head = h;
    this.resolveHead?.(h);
    return true;
  }
  onReset(code: ResetCode, reason: string): void {
    this.fail(new StreamError(code, reason, true));
  }

  fail(err: StreamError): void {
    if (this.error) return;
    // Both ends done, only our reader behind: what is queued is the rest of a whole answer, and the loss of the session
    // cannot take it away; the reader gets it, then the end. (An agent forgets an answer once its END was read here:
    // docs/protocol.md, Resume.)
    if (err.code === "session_closed" && this.remoteEnded && this.localEnded) return;
    this.error = err;
    this.queue = [];
    this.dropTail();
    this.queuedBytes = 0;
    this.sendWin.fail(err);
    if (!this.head) this.rejectHead?.(err);
    this.abort?.abort(err);
    const watchers = this.failWatchers;
    this.failWatchers = null;
    if (watchers) for (const w of watchers) w(err);
    this.wakeReader();
    this.release();
  }

  private wakeReader(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
  private maybeRelease(): void {
    if (this.localEnded && this.remoteEnded && !this.queue.length && !this.tailLen) this.release();
  }
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.host.release(this.id);
    this.resolveFinished?.();
    const w = this.finishWatch;
    this.finishWatch = null;
    w?.();
  }
}

function wakeLater(s: Stream): void {
  s.wakeCoalesced();
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

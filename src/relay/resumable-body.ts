// A client's answer body that outlives the agent's session: read from one source (the agent's stream here, or the
// owner node's answer across the hop); when that source is lost, the client's connection stays open while the answer is
// taken over from the byte the client has, wherever the agent reconnected; past the resume window it ends with the
// error line in the caller's dialect (cut-short.ts), as an answer cut short always did.
import { StreamError, type Stream } from "../protocol/stream.ts";
import { agentReplayed } from "./resume-offers.ts";

/** Where the answer's bytes come from now. */
export interface ChunkSource {
  /** The next bytes, null at the end; throws when the source broke. */
  next(): Promise<Uint8Array | null>;
  cancel(reason: unknown): void;
  /** Whether a break (what next() threw) is the loss of the agent's session or node, which a resume can mend. */
  lost(e: unknown): boolean;
  /** Bytes received from the agent but not delivered yet when it broke (they come again after the resume). */
  undelivered?(delivered: number): number;
  /**
   * Calls `cb` as soon as the source is lost (lost() would say so), even while nothing reads it: a client that is not
   * reading must not put off the resume until it reads again, when the agent may have given the answer up.
   */
  onLost?(cb: (e: unknown) => void): void;
  /** A resumed source: the bytes it sends again, by the agent's count (RESUME's `sent` − the offset), when known. */
  replayed?: number;
}

/** The agent's stream on this node as a source. */
export function streamSource(s: Stream, base = 0): ChunkSource {
  // Not when the agent left on purpose (its GO_AWAY): it will not come back for this answer.
  const lost = (e: unknown) => e instanceof StreamError && e.code === "session_closed" && !e.final;
  return {
    next: () => s.next(),
    cancel: (reason) => s.reset("cancel", `the client went away: ${reason ?? "no reason"}`),
    lost,
    undelivered: (delivered) => Math.max(0, base + s.bytesIn - delivered),
    onLost: (cb) => s.onFailure((e) => lost(e) && cb(e)),
    replayed: agentReplayed(s),
  };
}

/** An answer read from elsewhere (the hop): any failure to read it is a lost node, which a resume may mend. */
export function bodySource(body: ReadableStream<Uint8Array>, replayed?: number): ChunkSource {
  const reader = body.getReader();
  return {
    next: async () => {
      const r = await reader.read();
      return r.done ? null : r.value;
    },
    cancel: (reason) => void reader.cancel(reason).catch(() => {}),
    lost: () => true,
    replayed,
  };
}

export interface ResumeHooks {
  /**
   * The source to go on from `offset` (the bytes the client has), found within the resume window; null when none came.
   * `lateMs`: the loss was noticed that long after it was due (see StreamError.lateMs): that much of the window is gone.
   */
  resume(offset: number, signal: AbortSignal, lateMs: number): Promise<ChunkSource | null>;
  /** Whether a lost source may be resumed now (absent: always). */
  canResume?(): boolean;
  /** The answer's last bytes when it cannot go on (see cutShortTail); null fails the body. */
  onBreak(e: unknown, lastByte: number, resumeFailed: boolean): Uint8Array | null;
  /** Counted: a resume that worked, with the bytes that came twice to this node. */
  resumed?(replayed: number): void;
  /** Counted: the window passed with no resume. */
  failed?(): void;
  /** The body is over (whole, cut short, or the client gone). */
  ended?(): void;
}

/** The client's body: a Bun direct stream over `first`, resumed through `hooks` when its source is lost. */
export function resumableBody(first: ChunkSource, hooks: ResumeHooks): ReadableStream<Uint8Array> {
  let src = first;
  let cancelled = false;
  const gone = new AbortController();
  /** Body bytes handed to the client (a write that waits for a slow client counts: the client gets them). */
  let delivered = 0;
  /** A resume started when the source was lost, from the byte the client had then (see ChunkSource.onLost). */
  let early: { offset: number; next: Promise<ChunkSource | null> } | null = null;
  const dropEarly = (reason: string) => {
    void early?.next.then((s) => s?.cancel(reason));
    early = null;
  };
  const watch = (s: ChunkSource) =>
    s.onLost?.((e) => {
      if (cancelled || early || s !== src || !(hooks.canResume?.() ?? true)) return;
      early = { offset: delivered, next: hooks.resume(delivered, gone.signal, lateOf(e)) };
    });
  const lateOf = (e: unknown) => (e instanceof StreamError ? e.lateMs : 0);
  watch(first);
  return new ReadableStream({
    type: "direct",
    pull: async (c: { write(b: Uint8Array): unknown; flush(): unknown; close(): void }) => {
      try {
        await copy(c);
      } finally {
        hooks.ended?.();
      }
    },
    cancel: (reason: unknown) => {
      cancelled = true;
      gone.abort();
      dropEarly("the client went away");
      src.cancel(reason);
      hooks.ended?.();
    },
  } as unknown as UnderlyingDefaultSource<Uint8Array>);

  async function copy(c: { write(b: Uint8Array): unknown; flush(): unknown; close(): void }): Promise<void> {
    let last = -1;
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await src.next();
      } catch (e) {
        if (cancelled) return;
        let tail: Uint8Array | null;
        if (src.lost(e) && (hooks.canResume?.() ?? true)) {
          // What this node received and had not delivered; the agent's own count, when the new source has it, covers
          // what it sent that never arrived here too (in a cluster, through a node that is gone: this one saw none of it).
          const undelivered = src.undelivered?.(delivered) ?? 0;
          // The resume begun at the loss, when it asked for the bytes the client has now (it always does: the lost
          // stream hands out nothing more); else one from here.
          const begun = early?.offset === delivered ? early.next : null;
          if (!begun) dropEarly("superseded");
          early = null;
          const next = await (begun ?? hooks.resume(delivered, gone.signal, lateOf(e)));
          if (cancelled) {
            next?.cancel("the client went away");
            return;
          }
          if (next) {
            hooks.resumed?.(next.replayed ?? undelivered);
            src = next;
            watch(next);
            continue;
          }
          hooks.failed?.();
          tail = hooks.onBreak(e, last, true);
        } else {
          dropEarly("the answer ended");
          tail = hooks.onBreak(e, last, false);
        }
        // Failed with undefined, not an Error: Bun prints an Error that fails a body as a multi-line stack dump.
        if (tail === null) throw undefined;
        c.write(tail);
        c.close();
        return;
      }
      if (!chunk) break;
      if (!chunk.length) continue;
      delivered += chunk.length;
      last = chunk[chunk.length - 1]!;
      // Backpressure: a pending write waits for a slow client (see Stream.directReadable).
      const w = c.write(chunk);
      if (typeof w !== "number") await w;
      await c.flush();
    }
    c.close();
  }
}

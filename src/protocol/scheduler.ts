// Which outgoing frame leaves next on a session: control frames and heads at once, each stream's DATA in deficit round robin, and only while the transport is not backed up.
import { HEADER_SIZE, TYPE } from "./messages.ts";

/**
 * What each stream may send per round when streams compete: a token line or a small body leaves in its stream's first
 * round, while a bulk stream gets the same share and no more.
 */
export const QUANTUM = 16 * 1024;
/**
 * Bytes the transport may hold unsent before DATA waits in the session's own per-stream queues instead: past this, the
 * socket's buffer would be the queue, first in first out, and a chat's head would wait behind another stream's upload.
 */
export const BACKLOG_MARK = 64 * 1024;

/**
 * DATA frames of one stream with payloads under JOIN_SMALL bytes, written one after another and not yet handed to the
 * transport, leave as one frame of up to JOIN_BYTES (a relay forwarding a client's body of one-byte chunks: one frame
 * per turn, not one per byte, for the agent to decode; docs/protocol.md, Flow control). Larger frames are not touched.
 */
const JOIN_SMALL = 1024;
const JOIN_BYTES = 16 * 1024;

const DATA = TYPE.DATA;
const END = TYPE.END;
const RESET = TYPE.RESET;
const PING = TYPE.PING;

interface StreamQueue {
  frames: Uint8Array[];
  deficit: number;
}

/** Encoded frames in the order they should leave; the session takes them while the transport keeps up. */
export class FrameScheduler {
  /** Frames that go before any queued DATA: control frames, heads, credit, resets, and a stream's own DATA when nothing competes. */
  private urgent: Uint8Array[] = [];
  private readonly queues = new Map<number, StreamQueue>();
  /** Streams with DATA queued, in round-robin order. */
  private ring: number[] = [];
  /** Set while the transport is backed up: new DATA joins its stream's queue rather than the urgent list. */
  blocked = false;
  /** The stream at the head of the ring has had its QUANTUM for this turn. */
  private turnGranted = false;
  /** The last joined DATA frame (a view of joinBuf), while it waits at the end of a list; more may be appended in place. */
  private joined: Uint8Array | null = null;
  private joinBuf: Uint8Array | null = null;

  /** Whether anything waits. */
  get pending(): boolean {
    return this.urgent.length > 0 || this.ring.length > 0;
  }
  /** DATA bytes waiting in per-stream queues (for tests and metrics). */
  get queuedData(): number {
    let n = 0;
    for (const q of this.queues.values()) for (const f of q.frames) n += f.length;
    return n;
  }

  /** Adds one encoded frame of `stream` (0 for control frames). */
  push(bytes: Uint8Array, stream: number): void {
    const type = bytes[0]!;
    // Most of the time no stream has anything queued: no lookup then.
    const q = stream && this.queues.size ? this.queues.get(stream) : undefined;
    if (type === DATA) {
      // Nothing competing and the transport keeping up: the frame leaves in order with everything else (the hot path).
      if (!q && !this.blocked && !this.ring.length) {
        // One length check on the normal path (large frames); small ones may join the frame before them.
        if (bytes.length >= JOIN_SMALL + HEADER_SIZE || !this.join(this.urgent, bytes)) this.urgent.push(bytes);
      } else if (!q || bytes.length >= JOIN_SMALL + HEADER_SIZE || !this.join(q.frames, bytes)) this.enqueue(stream, q, bytes);
      return;
    }
    // A reset makes the stream's queued DATA moot; an END must follow the stream's queued DATA, and so must a PING
    // written for the stream (Session.fence: its PONG says the peer has read the stream's frames).
    if (type === RESET && q) this.drop(stream);
    else if ((type === END || type === PING) && q) return this.enqueue(stream, q, bytes);
    this.urgent.push(bytes);
  }

  /**
   * Appends small DATA frame `bytes` to the last frame of `list` when that is DATA of the same stream, small or joined
   * already, and the result stays within JOIN_BYTES: false when it is not. Joined bytes go into a buffer that doubles as
   * it fills (nothing is written where a frame already handed out lies: only past the end of the one in the list).
   */
  private join(list: Uint8Array[], bytes: Uint8Array): boolean {
    const last = list[list.length - 1];
    if (!last || last[0] !== DATA || last[2] !== bytes[2] || last[3] !== bytes[3] || last[4] !== bytes[4] || last[5] !== bytes[5]) return false;
    const n = bytes.length - HEADER_SIZE;
    const need = last.length + n;
    let buf = this.joinBuf;
    if (last !== this.joined) {
      if (last.length >= JOIN_SMALL + HEADER_SIZE) return false;
      buf = null;
    } else if (need > HEADER_SIZE + JOIN_BYTES) return false;
    if (!buf || need > buf.length) {
      // Sized to what is joined and doubled as it grows (two token lines of an answer in one turn take a few hundred
      // bytes, not 16 KiB), so a run of tiny frames is copied a bounded number of times.
      const grown = new Uint8Array(Math.min(HEADER_SIZE + JOIN_BYTES, Math.max(256, 2 * need)));
      grown.set(last);
      buf = this.joinBuf = grown;
    }
    buf.set(bytes.subarray(HEADER_SIZE), last.length);
    this.joined = list[list.length - 1] = buf.subarray(0, last.length + n);
    return true;
  }

  private enqueue(stream: number, q: StreamQueue | undefined, bytes: Uint8Array): void {
    if (!q) {
      q = { frames: [], deficit: 0 };
      this.queues.set(stream, q);
      this.ring.push(stream);
    }
    q.frames.push(bytes);
  }

  private drop(stream: number): void {
    this.queues.delete(stream);
    if (this.ring[0] === stream) this.turnGranted = false;
    this.ring = this.ring.filter((s) => s !== stream);
  }

  /** Takes the urgent frames (all of them: they are small and must not wait). */
  takeUrgent(): Uint8Array[] {
    const u = this.urgent;
    if (u.length) this.urgent = [];
    return u;
  }

  /**
   * The next queued frame by deficit round robin, or null when no stream has DATA queued. The stream at the head of the
   * ring earns QUANTUM once per turn and sends frames while they fit in what it has earned; then the next stream's turn.
   */
  next(): Uint8Array | null {
    while (this.ring.length) {
      const id = this.ring[0]!;
      const q = this.queues.get(id)!;
      if (!this.turnGranted) {
        q.deficit += QUANTUM;
        this.turnGranted = true;
      }
      const f = q.frames[0]!;
      if (f.length <= q.deficit) {
        q.deficit -= f.length;
        q.frames.shift();
        if (!q.frames.length) {
          // An emptied stream leaves the ring and keeps no credit: DRR's rule against saving up for a burst.
          this.queues.delete(id);
          this.ring.shift();
          this.turnGranted = false;
        }
        return f;
      }
      this.ring.push(this.ring.shift()!);
      this.turnGranted = false;
    }
    return null;
  }
}

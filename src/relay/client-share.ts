// Each cloud client's share of one tunnel's concurrent streams at the relay: no client holds more than its share, so
// calls of one client (waiting in the broker's queue, or paused by a client that never reads) cannot shut the
// tunnel's other clients out; a call that finds the tunnel full waits briefly, and a freed stream goes to the waiting
// client that holds the fewest (max-min fair), first come first served among equals.

/** How long a call that finds its tunnel's streams all taken waits for one before its 429. */
export const SHARE_WAIT_MS = 2_000;
/** Entries of clients holding nothing past which they are dropped. */
const SWEEP_AT = 256;

/**
 * One client's most streams at once when `[limits] max_streams_per_client` is 0: max_streams less a quarter of it
 * (rounded down), kept for the tunnel's other clients. A client alone uses nearly the whole tunnel; a tunnel of fewer
 * than 4 streams keeps none back.
 */
export function defaultShare(maxStreams: number): number {
  return maxStreams - Math.floor(maxStreams / 4);
}

/** A client's share of a tunnel's `total` (streams, or requests per minute): `configured`, else defaultShare(total). */
export function clientShareOf(total: number, configured: number): number {
  return configured > 0 ? Math.min(configured, total) : defaultShare(total);
}

/** admitted: counted, go on; over: this client alone already holds (or awaits) its share (429); full: the tunnel is full, wait(). */
export type ShareVerdict = "admitted" | "over" | "full";

interface Waiter {
  client: string;
  done: (ok: boolean) => void;
}

export class ClientShare {
  /** Streams in flight on the tunnel, every client's. */
  total = 0;
  /** The tunnel's streams: the relay's max_streams, or the agent's when it takes fewer (fit()). */
  maxStreams: number;
  readonly perClient: number;
  /**
   * Streams each client holds. A client that holds none keeps its entry (0) while few do, so a client calling one at a
   * time allocates nothing per call; past SWEEP_AT such entries they are dropped (identities come and go: keys, subjects).
   */
  private readonly held = new Map<string, number>();
  /** Calls waiting for a stream, in arrival order. */
  private readonly waiters: Waiter[] = [];

  constructor(
    /** The relay's [limits] max_streams. */
    readonly configured: number,
    perClient = 0,
  ) {
    this.maxStreams = configured;
    this.perClient = clientShareOf(configured, perClient);
  }

  /**
   * Holds the tunnel to what its agent takes at once (HELLO.maxStreams; undefined: an older agent, the relay's own limit):
   * the fewer of the two. Each client's share stays the relay's: the calls past the agent's limit wait for a stream
   * (wait()), which goes to the waiting client that holds the fewest, rather than be refused at once.
   */
  fit(agentMax: number | undefined): void {
    const n = agentMax === undefined || agentMax > this.configured ? this.configured : agentMax;
    if (n === this.maxStreams) return;
    const more = n > this.maxStreams;
    this.maxStreams = n;
    // An agent that takes more now (reconnected with a higher max_streams): the calls waiting get the room at once.
    if (more) this.handOut();
  }

  /** The agent's max_streams, not the relay's, holds the tunnel now. */
  get agentBound(): boolean {
    return this.maxStreams < this.configured;
  }

  /** Whether nothing is held or awaited: the tunnel's share is as good as a new one (limits.ts drops it then). */
  get unused(): boolean {
    return this.total === 0 && this.waiters.length === 0;
  }

  /** The streams `client` holds now. */
  heldBy(client: string): number {
    return this.held.get(client) ?? 0;
  }

  private waitingOf(client: string): number {
    let n = 0;
    for (const w of this.waiters) if (w.client === client) n++;
    return n;
  }

  /** Allocates nothing while the client is known and no call waits (nearly every call). */
  admit(client: string): ShareVerdict {
    const h = this.held.get(client) ?? 0;
    if (h + (this.waiters.length ? this.waitingOf(client) : 0) >= this.perClient) return "over";
    if (this.total >= this.maxStreams) return "full";
    this.held.set(client, h + 1);
    this.total++;
    return "admitted";
  }

  /** After "full": true once a stream was handed to this call (counted, as by admit()); false after `ms` or the signal. */
  wait(client: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { client, done: (ok) => finish(ok) };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", gone);
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(ok);
      };
      const gone = () => finish(false);
      const timer = setTimeout(gone, ms);
      signal?.addEventListener("abort", gone, { once: true });
      this.waiters.push(w);
      if (signal?.aborted) gone();
    });
  }

  /** A stream of `client` ended: handed to the waiting call whose client holds the fewest, or freed. */
  release(client: string): void {
    const h = this.held.get(client) ?? 0;
    if (h > 0) {
      this.held.set(client, h - 1);
      this.total--;
    }
    // Only once SWEEP_AT entries hold nothing (at most `total` hold something): a sweep per SWEEP_AT calls at most.
    if (this.held.size > SWEEP_AT + this.total) for (const [c, n] of this.held) if (n === 0) this.held.delete(c);
    this.handOut();
  }

  /** Free streams to the waiting calls whose clients hold the fewest (done() takes each out of waiters at once). */
  private handOut(): void {
    while (this.waiters.length && this.total < this.maxStreams) {
      let best: Waiter | null = null;
      let fewest = Infinity;
      for (const w of this.waiters) {
        const n = this.held.get(w.client) ?? 0;
        if (n < fewest) (best = w), (fewest = n);
      }
      // A waiting call's client was under its share when it came (admit()), so the best one may always take it.
      this.held.set(best!.client, fewest + 1);
      this.total++;
      best!.done(true);
    }
  }
}

// Each cloud client's share of one tunnel's requests per minute on one node (a sliding window per client, as the
// tunnel's own and the cluster's in Redis: cluster/rate-window.ts), so one client cannot spend the whole minute of the
// tunnel's others. A client here is its relay credential (client key or JWT subject), or a gateway key its agent has
// already served (the minute is counted before the agent checks a key, so an unproven one counts under the
// credential: verified-clients.ts).
import { clientShareOf } from "./client-share.ts";

/** The times of one client's requests in the last minute, oldest first from `head` (entries before it are spent). */
interface Window {
  times: number[];
  head: number;
}

const WINDOW_MS = 60_000;
/** How often windows that emptied are dropped: a client that went quiet leaves no entry behind. */
const SWEEP_MS = 60_000;

export class ClientRates {
  readonly perClient: number;
  private readonly windows = new Map<string, Window>();
  private swept: number;

  constructor(
    perMinute: number,
    perClient = 0,
    private readonly now: () => number = Date.now,
  ) {
    // The same rule as the streams' share: a quarter of the minute kept for the tunnel's other clients.
    this.perClient = clientShareOf(perMinute, perClient);
    this.swept = now();
  }

  /**
   * Drops the requests older than a minute, or (the clock set back) not yet come: the share starts afresh then, as
   * the tunnel's window does (limits.ts), rather than lock the client out until the clock catches up. A token bucket
   * let a client that spent its share at once take one more each 60/share seconds, so within a minute it held the
   * quarter kept for the tunnel's others too (450 at once, then 7.5 a second: the tunnel's whole 600).
   */
  private trim(w: Window, t: number): number {
    const { times } = w;
    while (w.head < times.length && (times[w.head]! <= t - WINDOW_MS || times[w.head]! > t)) w.head++;
    // Spent entries are cut away once they are most of the array: amortised, no copy per request.
    if (w.head > 32 && w.head * 2 > times.length) times.splice(0, w.head), (w.head = 0);
    return times.length - w.head;
  }

  /** null when `client` has one more request this minute (not yet counted: take() does), else the seconds until it would. */
  check(client: string): number | null {
    const w = this.windows.get(client);
    if (!w) return null;
    const t = this.now();
    if (this.trim(w, t) < this.perClient) return null;
    // Full: room again once the oldest of the last `perClient` requests is a minute old.
    const oldest = w.times[w.times.length - this.perClient]!;
    return Math.max(1, Math.ceil((oldest + WINDOW_MS - t) / 1000));
  }

  /** Counts a request of `client` (after check() said it fits, and the tunnel's own limit did too). */
  take(client: string): void {
    const t = this.now();
    let w = this.windows.get(client);
    if (!w) this.windows.set(client, (w = { times: [], head: 0 }));
    else this.trim(w, t);
    w.times.push(t);
    if (t - this.swept > SWEEP_MS) this.sweep(t);
  }

  /** Clients that have a window (an empty one is as good as none). */
  get size(): number {
    return this.windows.size;
  }

  private sweep(t: number): void {
    this.swept = t;
    for (const [c, w] of this.windows) if (this.trim(w, t) === 0) this.windows.delete(c);
  }
}

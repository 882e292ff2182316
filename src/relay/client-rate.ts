// Each cloud client's share of one tunnel's requests per minute on one node (a token bucket per client), so one client
// cannot spend the whole minute of the tunnel's others; in a cluster Redis keeps the same share (cluster/rate-window.ts).
// A client here is its relay credential (client key or JWT subject), or a gateway key its agent has already served (the
// minute is counted before the agent checks a key, so an unproven one counts under the credential: verified-clients.ts).
import { clientShareOf } from "./client-share.ts";

interface Bucket {
  tokens: number;
  last: number;
}

/** How often buckets that refilled are dropped: a client that went quiet leaves no entry behind. */
const SWEEP_MS = 60_000;

export class ClientRates {
  readonly perClient: number;
  private readonly buckets = new Map<string, Bucket>();
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

  private refill(b: Bucket, t: number): void {
    // A clock set back: the share starts afresh, as the tunnel's window does (limits.ts), rather than lock the client
    // out until the clock catches up.
    if (t < b.last) {
      b.tokens = this.perClient;
      b.last = t;
      return;
    }
    b.tokens = Math.min(this.perClient, b.tokens + ((t - b.last) * this.perClient) / 60_000);
    b.last = t;
  }

  /** null when `client` has one more request this minute (not yet counted: take() does), else the seconds until it would. */
  check(client: string): number | null {
    const b = this.buckets.get(client);
    if (!b) return null;
    this.refill(b, this.now());
    return b.tokens < 1 ? Math.max(1, Math.ceil(((1 - b.tokens) * 60) / this.perClient)) : null;
  }

  /** Counts a request of `client` (after check() said it fits, and the tunnel's own limit did too). */
  take(client: string): void {
    const t = this.now();
    let b = this.buckets.get(client);
    // A client's bucket stays while it calls (no object per request); one that refilled is dropped by the sweep.
    if (!b) this.buckets.set(client, (b = { tokens: this.perClient, last: t }));
    else this.refill(b, t);
    b.tokens -= 1;
    if (t - this.swept > SWEEP_MS) this.sweep(t);
  }

  /** Clients that have a bucket (a full one is as good as none). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(t: number): void {
    this.swept = t;
    for (const [c, b] of this.buckets) {
      this.refill(b, t);
      if (b.tokens >= this.perClient) this.buckets.delete(c);
    }
  }
}

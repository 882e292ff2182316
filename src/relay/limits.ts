// Per-tunnel limits kept by one node: requests per minute (a sliding window; in a cluster only while Redis is away, see
// cluster/rate-window.ts) and concurrent streams (always at the node that holds the agent).

const WINDOW_MS = 60_000;

export class TunnelLimits {
  /**
   * The times of the requests admitted in the last minute, oldest first, in a ring (grown by doubling up to
   * perMinute): no allocation per request. A sliding window, as the cluster's shared one and the broker's --rpm: at most
   * perMinute requests in any 60 seconds (a token bucket let through nearly twice that: a burst, then its refill).
   */
  private times = new Float64Array(8);
  private head = 0;
  private count = 0;
  active = 0;

  constructor(
    private readonly perMinute: number,
    readonly maxStreams: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** null when one more request fits this minute (and counts it), else the seconds until one would. */
  admitRate(): number | null {
    const t = this.now();
    const ring = this.times;
    // Older than a minute, or (the clock set back) not yet come: out of the window.
    while (this.count > 0 && (ring[this.head]! <= t - WINDOW_MS || ring[this.head]! > t)) {
      this.head = (this.head + 1) % ring.length;
      this.count--;
    }
    if (this.count >= this.perMinute) return Math.max(1, Math.ceil((ring[this.head]! + WINDOW_MS - t) / 1000));
    if (this.count === ring.length) this.grow();
    this.times[(this.head + this.count) % this.times.length] = t;
    this.count++;
    return null;
  }

  /** Twice the room (at most perMinute), the times kept in order from the start. */
  private grow(): void {
    const old = this.times;
    const next = new Float64Array(Math.min(old.length * 2, Math.max(this.perMinute, old.length + 1)));
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length]!;
    this.times = next;
    this.head = 0;
  }

  /** true when one more stream may open (and counts it); done() gives it back. */
  admitStream(): boolean {
    if (this.active >= this.maxStreams) return false;
    this.active++;
    return true;
  }

  done(): void {
    this.active = Math.max(0, this.active - 1);
  }
}

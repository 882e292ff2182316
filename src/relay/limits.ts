// Per-tunnel limits kept by one node: requests per minute (a token bucket; in a cluster only while Redis is away, see
// cluster/rate-window.ts) and concurrent streams (always at the node that holds the agent).
export class TunnelLimits {
  private tokens: number;
  private last: number;
  active = 0;

  constructor(
    private readonly perMinute: number,
    readonly maxStreams: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perMinute;
    this.last = now();
  }

  /** null when one more request fits this minute (and counts it), else the seconds until one would. */
  admitRate(): number | null {
    const t = this.now();
    this.tokens = Math.min(this.perMinute, this.tokens + ((t - this.last) * this.perMinute) / 60_000);
    this.last = t;
    if (this.tokens < 1) return Math.max(1, Math.ceil(((1 - this.tokens) * 60) / this.perMinute));
    this.tokens -= 1;
    return null;
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

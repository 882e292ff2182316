// Per-tunnel limits: requests per minute (a token bucket) and concurrent streams.
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

  /** null when the request may start (and counts it), else the reason it may not. */
  admit(): "rate" | "streams" | null {
    const t = this.now();
    this.tokens = Math.min(this.perMinute, this.tokens + ((t - this.last) * this.perMinute) / 60_000);
    this.last = t;
    if (this.active >= this.maxStreams) return "streams";
    if (this.tokens < 1) return "rate";
    this.tokens -= 1;
    this.active++;
    return null;
  }

  done(): void {
    this.active = Math.max(0, this.active - 1);
  }
}

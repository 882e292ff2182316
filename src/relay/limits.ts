// Per-tunnel limits kept by one node: requests per minute (a token bucket; in a cluster only while Redis is away, see
// cluster/rate-window.ts) and concurrent streams, each client's share of them (client-share.ts; always at the node
// that holds the agent).
import { ClientShare } from "./client-share.ts";

export class TunnelLimits {
  private tokens: number;
  private last: number;
  /** The tunnel's concurrent streams, shared between its clients. */
  readonly streams: ClientShare;

  constructor(
    private readonly perMinute: number,
    readonly maxStreams: number,
    private readonly now: () => number = Date.now,
    perClient = 0,
  ) {
    this.tokens = perMinute;
    this.last = now();
    this.streams = new ClientShare(maxStreams, perClient);
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
}

// Per-tunnel limits kept by one node: requests per minute (a token bucket, and each client's share of it: client-rate.ts;
// in a cluster only while Redis is away, see cluster/rate-window.ts) and concurrent streams, each client's share of them
// (client-share.ts; always at the node that holds the agent).
import { ClientRates } from "./client-rate.ts";
import { ClientShare } from "./client-share.ts";

/** A request over a minute's limit: the seconds until one would fit, and whether it was the client's share (not the tunnel's). */
export interface RateRefusal {
  seconds: number;
  client: boolean;
}

export class TunnelLimits {
  private tokens: number;
  private last: number;
  /** The tunnel's concurrent streams, shared between its clients. */
  readonly streams: ClientShare;
  /** Each client's share of the requests per minute. */
  readonly rates: ClientRates;

  constructor(
    private readonly perMinute: number,
    readonly maxStreams: number,
    private readonly now: () => number = Date.now,
    perClient: { streams?: number; perMinute?: number } = {},
  ) {
    this.tokens = perMinute;
    this.last = now();
    this.streams = new ClientShare(maxStreams, perClient.streams);
    this.rates = new ClientRates(perMinute, perClient.perMinute, now);
  }

  /** null when one more request of `client` fits this minute, the tunnel's and its own share (and counts it), else why not. */
  admitRate(client: string): RateRefusal | null {
    const t = this.now();
    this.tokens = Math.min(this.perMinute, this.tokens + ((t - this.last) * this.perMinute) / 60_000);
    this.last = t;
    if (this.tokens < 1) return { seconds: Math.max(1, Math.ceil(((1 - this.tokens) * 60) / this.perMinute)), client: false };
    const own = this.rates.check(client);
    if (own !== null) return { seconds: own, client: true };
    this.tokens -= 1;
    this.rates.take(client);
    return null;
  }
}

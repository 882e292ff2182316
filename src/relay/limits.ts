// Per-tunnel limits kept by one node: requests per minute (a sliding window, and each client's share of it:
// client-rate.ts; in a cluster only while Redis is away, see cluster/rate-window.ts) and concurrent streams, each
// client's share of them (client-share.ts; always at the node that holds the agent); the table of them, which drops
// the tunnels gone quiet.
import { ClientRates } from "./client-rate.ts";
import { ClientShare } from "./client-share.ts";
import { EarlyCancels } from "./early-cancels.ts";

const WINDOW_MS = 60_000;

/** A request over a minute's limit: the seconds until one would fit, and whether it was the client's share (not the tunnel's). */
export interface RateRefusal {
  seconds: number;
  client: boolean;
}

export class TunnelLimits {
  /**
   * The times of the requests admitted in the last minute, oldest first, in a ring (grown by doubling up to
   * perMinute): no allocation per request. A sliding window, as the cluster's shared one and the broker's --rpm: at most
   * perMinute requests in any 60 seconds (a token bucket let through nearly twice that: a burst, then its refill).
   */
  private times = new Float64Array(8);
  private head = 0;
  private count = 0;
  /** The tunnel's concurrent streams, shared between its clients. */
  readonly streams: ClientShare;
  /** Each client's share of the requests per minute. */
  readonly rates: ClientRates;
  /** Calls aborted before the agent's answer began, kept under the agent's rapid-reset budget (early-cancels.ts). */
  readonly early = new EarlyCancels();

  constructor(
    private readonly perMinute: number,
    readonly maxStreams: number,
    private readonly now: () => number = Date.now,
    perClient: { streams?: number; perMinute?: number } = {},
  ) {
    this.streams = new ClientShare(maxStreams, perClient.streams);
    this.rates = new ClientRates(perMinute, perClient.perMinute, now);
  }

  /** null when one more request of `client` fits this minute, the tunnel's and its own share (and counts it), else why not. */
  admitRate(client: string): RateRefusal | null {
    const t = this.now();
    const ring = this.times;
    // Older than a minute, or (the clock set back) not yet come: out of the window.
    while (this.count > 0 && (ring[this.head]! <= t - WINDOW_MS || ring[this.head]! > t)) {
      this.head = (this.head + 1) % ring.length;
      this.count--;
    }
    if (this.count >= this.perMinute) return { seconds: Math.max(1, Math.ceil((ring[this.head]! + WINDOW_MS - t) / 1000)), client: false };
    const own = this.rates.check(client);
    if (own !== null) return { seconds: own, client: true };
    if (this.count === ring.length) this.grow();
    this.times[(this.head + this.count) % this.times.length] = t;
    this.count++;
    this.rates.take(client);
    return null;
  }

  /**
   * Whether this tunnel's limits are as good as new ones: no request in the last minute (so every client's share of it
   * is empty: client-rate.ts) and no stream held or awaited. Dropping them then forgets nothing.
   */
  idle(t = this.now()): boolean {
    if (!this.streams.unused) return false;
    // From the newest: a tunnel in use answers at once. A time not yet come (the clock set back) is out, as in admitRate.
    for (let i = this.count - 1; i >= 0; i--) {
      const at = this.times[(this.head + i) % this.times.length]!;
      if (at > t - WINDOW_MS && at <= t) return false;
    }
    return true;
  }

  /** Twice the room (at most perMinute), the times kept in order from the start. */
  private grow(): void {
    const old = this.times;
    const next = new Float64Array(Math.min(old.length * 2, Math.max(this.perMinute, old.length + 1)));
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length]!;
    this.times = next;
    this.head = 0;
  }
}

/**
 * The limits of each tunnel called at this node, made at its first call. Tunnels come and go (with [oidc], one per
 * signed-in user who ever called, its agent connected or not), so the limits of tunnels gone quiet are dropped: when a
 * tunnel's first call makes new ones, at most once a minute, every idle entry goes (TunnelLimits.idle: nothing is lost).
 * Driven by calls, not by a timer: an idle relay does not wake for it; what a quiet relay keeps is what it had.
 */
export class TunnelLimitsTable {
  private readonly byTunnel = new Map<string, TunnelLimits>();
  private swept: number;

  constructor(
    private readonly make: () => TunnelLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.swept = now();
  }

  /** The limits of tunnel `id` (one Map lookup for a tunnel already called: the hot path). */
  get(id: string): TunnelLimits {
    let l = this.byTunnel.get(id);
    if (!l) {
      const t = this.now();
      // A clock set back sweeps too, rather than never again until it catches up.
      if (t - this.swept >= WINDOW_MS || t < this.swept) this.sweep(t);
      this.byTunnel.set(id, (l = this.make()));
    }
    return l;
  }

  /** Tunnels with limits kept. */
  get size(): number {
    return this.byTunnel.size;
  }

  private sweep(t: number): void {
    this.swept = t;
    for (const [id, l] of this.byTunnel) if (l.idle(t)) this.byTunnel.delete(id);
  }
}

// How long this node has reached Redis without a real break, as it tells a peer cut off from Redis (split-watch.ts: the
// peer stands aside only when this node has reached Redis since before the peer lost it). A blip, an outage shorter than
// a third of lease_ttl (a command that timed out while this node or the path to Redis stalled, and the link came back at
// its first reconnect), does not start it over: the cut-off node counts its own loss only past that same third, and a
// blip of every peer while it is cut off held it back until its leases had lapsed (every other node answered 502).

export class RedisUptime {
  private since: number | null = null;
  /** When the last outage began, and the uptime it broke (restored when the outage was a blip). */
  private broke: { at: number; since: number } | null = null;

  constructor(
    private readonly blipMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Redis takes this node's writes (again). */
  up(): void {
    if (this.since !== null) return;
    const t = this.now();
    this.since = this.broke && t - this.broke.at < this.blipMs ? this.broke.since : t;
    this.broke = null;
  }

  /** Redis is unreachable or refuses this node's writes. */
  down(): void {
    if (this.since === null) return;
    this.broke = { at: this.now(), since: this.since };
    this.since = null;
  }

  /** Milliseconds of uptime now (0 while down). */
  ms(): number {
    return this.since === null ? 0 : Math.round(this.now() - this.since);
  }
}

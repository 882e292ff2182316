// Whether this node stands aside because a network split cut it off from the cluster's Redis while another node still
// reaches it: its leases cannot be renewed and would lapse under agents that are healthy here, and every other node
// would then answer 502 tunnel_offline for them. So before that, the node sends its agents away (they reconnect through
// the balancer to a node that reaches Redis and claim there), refuses new ones and says it is not ready. Only when a
// peer proves it reaches Redis, and has since before this node lost it (or for a whole lease_ttl): when Redis is down
// for every node, or coming back to them one by one, sending agents around would only churn them.

export interface SplitWatchDeps {
  leaseTtlMs: number;
  /** Redis is reachable and takes this node's writes. */
  usable(): boolean;
  /** The other members as last seen in Redis: id and internal URL (kept through the split: it is all there is). */
  peers(): Iterable<{ id: string; url: string }>;
  /** How long the peer has reached Redis without a break, proven by a write it made now; null: it does not (or no answer). */
  redisUptime(peer: { id: string; url: string }): Promise<number | null>;
  /** This node stands aside now (`peer` reaches Redis): send its agents away. */
  aside(peer: string): void;
  /** It no longer does (Redis is back, or no peer reaches it either). */
  back(): void;
  now?(): number;
}

export class SplitWatch {
  private lastWrite: number;
  private checking = false;
  /** The peer that confirmed it reaches Redis while this node could not, or null: this node is not standing aside. */
  confirmedBy: string | null = null;
  private readonly now: () => number;

  constructor(private readonly d: SplitWatchDeps) {
    this.now = d.now ?? (() => performance.now());
    this.lastWrite = this.now();
  }

  /** Redis took one of this node's writes (a heartbeat, a lease). */
  wrote(): void {
    this.lastWrite = this.now();
  }

  /**
   * Run often (a sixth of lease_ttl): no write accepted for a third of lease_ttl (a missed renewal; a blip of a
   * reconnect is shorter) and Redis counted as away means the leases are at risk; with a sixth for this check and the
   * rest for the agent's reconnect, they move before the last renewal's lease lapses.
   */
  async check(): Promise<void> {
    if (this.checking) return;
    if (this.d.usable()) {
      if (this.confirmedBy !== null) this.rejoin();
      return;
    }
    if (this.now() - this.lastWrite < this.d.leaseTtlMs / 3) return;
    this.checking = true;
    try {
      // Reaching Redis since before this node lost it is a split of this node's own; since just now, Redis is coming
      // back and this node's reconnect is due too (past a lease_ttl it is not: this node is cut off after all).
      const lost = Math.min(this.now() - this.lastWrite, this.d.leaseTtlMs);
      const peer = await firstThat([...this.d.peers()], async (p) => ((await this.d.redisUptime(p)) ?? -1) >= lost);
      // Redis may have come back while the peers were asked.
      if (this.d.usable()) return;
      if (peer && this.confirmedBy === null) {
        this.confirmedBy = peer.id;
        this.d.aside(peer.id);
      } else if (!peer && this.confirmedBy !== null) this.rejoin();
    } finally {
      this.checking = false;
    }
  }

  private rejoin(): void {
    this.confirmedBy = null;
    this.d.back();
  }
}

/** The first item for which `test` resolves true (asked all at once), or null once every one said no. */
function firstThat<T>(items: T[], test: (t: T) => Promise<boolean>): Promise<T | null> {
  if (!items.length) return Promise.resolve(null);
  return new Promise((resolve) => {
    let left = items.length;
    for (const t of items)
      test(t).then(
        (yes) => (yes ? resolve(t) : --left || resolve(null)),
        () => --left || resolve(null),
      );
  });
}

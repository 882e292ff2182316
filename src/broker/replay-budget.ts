// The bytes of request bodies held in memory for failover, across all requests: bounded by [proxy] replay_buffer.
//
// A body the broker may send twice must stay in memory until an upstream has answered. Without a shared bound, a few
// large uploads to a slow upstream hold that many bodies at once; with it, a body that does not fit streams in a
// single attempt (no failover for that request) instead of growing the process.

/** A request's share of the budget: taken as its body is read, given back once (release is idempotent). */
export interface ReplayLease {
  /** Reserves n more bytes; false (nothing reserved) when the budget cannot cover them. */
  take(n: number): boolean;
  /** Bytes this lease holds. */
  readonly held: number;
  /** Gives every byte back (the body is no longer needed for a retry, or the request ended). */
  release(): void;
}

export class ReplayBudget {
  private used = 0;

  /** `limit` is read at every reservation, so a config reload applies to the next one. */
  constructor(private readonly limit: () => number) {}

  /** Bytes reserved by all live leases. */
  get held(): number {
    return this.used;
  }

  /** Bytes a new reservation could still get. */
  get available(): number {
    return Math.max(0, this.limit() - this.used);
  }

  lease(): ReplayLease {
    let mine = 0;
    let released = false;
    return {
      take: (n) => {
        if (released || n > this.limit() - this.used) return false;
        this.used += n;
        mine += n;
        return true;
      },
      get held() {
        return mine;
      },
      release: () => {
        if (released) return;
        released = true;
        this.used -= mine;
        mine = 0;
      },
    };
  }
}

/** A budget without a bound (callers that pass none: unit tests, tools). */
export const unbounded = (): ReplayBudget => new ReplayBudget(() => Number.POSITIVE_INFINITY);

// The nonces of node-to-node requests already accepted, kept for as long as their signatures could still verify: a
// captured request sent again, however exact, is refused. In memory per node (a nonce is only good at the node it was
// sent to, whose listener checks it); entries expire with the signature window. What was accepted before this process
// started is not known, so nothing signed before then is accepted (a restart does not reopen the window).
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  private nextSweep = 0;

  constructor(
    private readonly windowMs: number,
    /** When this cache started remembering: earlier signatures may have been used already. */
    readonly since = Date.now(),
  ) {}

  /** true the first time a nonce signed at `ts` is offered (it is remembered), false for every later time. */
  accept(nonce: string, ts: number, now = Date.now()): boolean {
    if (now >= this.nextSweep) this.sweep(now);
    if (this.seen.has(nonce)) return false;
    // Valid while |now - ts| <= window, so remembered until ts + window (and at least one window from now).
    this.seen.set(nonce, Math.max(ts, now) + this.windowMs);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    for (const [k, until] of this.seen) if (until < now) this.seen.delete(k);
    this.nextSweep = now + 1000;
  }
}

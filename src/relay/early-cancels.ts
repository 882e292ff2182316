// A tunnel's calls its clients abort before the agent's answer began: each is a stream the relay resets early, which the
// agent counts as a rapid reset (docs/protocol.md, Heartbeats) and past its budget cuts the tunnel for every client.
// The relay keeps them under the agent's budget: a bucket per tunnel at half the agent's rate, and once it is spent the
// clients that aborted lately are refused (429) until it refills; the tunnel's other clients go on.

/** Early aborts a tunnel may make at once: half the 256 the agent's budget allows a connection doing nothing else. */
export const EARLY_BURST = 128;
/** And a second, refilled: half the agent's 64. */
export const EARLY_PER_SECOND = 32;
/** A client that aborted a call early this recently is refused while the bucket is empty. */
const RECENT_MS = 2_000;
/** Entries past which clients that aborted longest ago are dropped. */
const SWEEP_AT = 256;

export class EarlyCancels {
  private tokens = EARLY_BURST;
  private last: number;
  /** When each client last aborted a call early. */
  private readonly recent = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {
    this.last = now();
  }

  private refill(t: number): void {
    this.tokens = Math.min(EARLY_BURST, this.tokens + ((t - this.last) * EARLY_PER_SECOND) / 1000);
    this.last = t;
  }

  /** A call of `client` was aborted before its answer's head (its stream reset early). */
  note(client: string): void {
    const t = this.now();
    this.refill(t);
    // Below zero too (calls already in flight): the refusals last until the agent's budget has had its time back.
    this.tokens = Math.max(-EARLY_BURST, this.tokens - 1);
    this.recent.delete(client);
    this.recent.set(client, t);
    if (this.recent.size > SWEEP_AT) for (const [c, at] of this.recent) if (t - at >= RECENT_MS || this.recent.size > SWEEP_AT) this.recent.delete(c);
  }

  /**
   * Seconds until `client` may call again, or 0: only while the bucket is spent, and only a client that aborted a call
   * early lately. Nothing is read (no clock, no lookup) while the bucket holds a token (nearly every call).
   */
  refusal(client: string): number {
    // Refilling only adds: a bucket with a token left needs no clock.
    if (this.tokens >= 1) return 0;
    const t = this.now();
    this.refill(t);
    if (this.tokens >= 1) return 0;
    const at = this.recent.get(client);
    if (at === undefined || t - at >= RECENT_MS) return 0;
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / EARLY_PER_SECOND / 1000));
  }
}

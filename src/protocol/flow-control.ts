// Per-stream credit windows: the sender spends credit and waits for more; the receiver returns credit as its reader consumes.
import { INITIAL_WINDOW } from "./messages.ts";

/** Credit we may still send on one stream. */
export class SendWindow {
  private credit: number;
  private waiters: (() => void)[] = [];
  private failed: Error | null = null;
  constructor(initial = INITIAL_WINDOW) {
    this.credit = initial;
  }
  get available(): number {
    return this.credit;
  }
  /** A writer waits for credit now. */
  get waiting(): boolean {
    return this.waiters.length > 0;
  }
  /** Resolves with up to `want` bytes of credit (at least 1), waiting while the window is empty. */
  async take(want: number): Promise<number> {
    while (this.credit <= 0) {
      if (this.failed) throw this.failed;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    if (this.failed) throw this.failed;
    const n = Math.min(want, this.credit);
    this.credit -= n;
    return n;
  }
  /** Takes available credit without waiting (callers check `available` first). */
  takeNow(want: number): number {
    const n = Math.min(want, this.credit);
    this.credit -= n;
    return n;
  }
  grant(increment: number): void {
    this.credit += increment;
    for (const w of this.waiters.splice(0)) w();
  }
  /** Wakes every waiter with this error (stream reset or session closed). */
  fail(err: Error): void {
    this.failed = err;
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * Credit we granted the peer on one stream, and what we hold unread. The window may move while the stream runs (the
 * session's measured bandwidth-delay product, window-sizing.ts): credit is returned so that what the peer may still
 * send plus what we hold comes back to the current target. A smaller target withholds credit until the peer's drains;
 * a larger one grants the difference at once. Either way the peer only ever sees WINDOW_UPDATE, as in every version.
 */
export class RecvWindow {
  private granted: number;
  private held = 0;
  constructor(
    private readonly target: () => number = () => INITIAL_WINDOW,
    initial = INITIAL_WINDOW,
  ) {
    this.granted = initial;
  }
  /** Accounts for received bytes; false means the peer overran its credit (a flow-control violation). */
  receive(n: number): boolean {
    if (n > this.granted) return false;
    this.granted -= n;
    this.held += n;
    return true;
  }
  /** Accounts for bytes the reader took; returns an increment to send once half the window is free again, else 0. */
  consume(n: number): number {
    this.held -= n;
    const size = this.target();
    const inc = size - this.granted - this.held;
    if (inc < size / 2) return 0;
    this.granted += inc;
    return inc;
  }
}

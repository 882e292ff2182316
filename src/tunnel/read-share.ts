// The relay's share of the daemon's event loop: past it, the agent stops reading the relay's socket until the window ends.
//
// Why: Bun's WebSocket client hands over every message it has read, one after another, in one turn of the loop. A relay
// that floods tiny frames (PINGs, DATA for streams that do not exist) kept the loop busy with them: a local
// `curl 127.0.0.1:11435/api/tags` took 1.5 s at the median (4.3 s at worst) instead of 3 ms. Paused, the socket leaves
// the relay's bytes in the kernel (TCP backpressure slows the relay, not us) and the broker's clients get the loop.

/** What the share pauses: Bun's client WebSocket has pause() and resume() (1.4.5; the DOM type does not say so). */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

/** Time the relay's messages may take per window, and the window (ms): a fifth of the loop. */
export const READ_SHARE_MS = 20;
export const READ_WINDOW_MS = 100;

export class ReadShare {
  private windowStart = 0;
  private used = 0;
  private paused = false;

  constructor(
    private readonly socket: Pausable,
    private readonly now: () => number = () => performance.now(),
    private readonly later: (fn: () => void, ms: number) => unknown = (fn, ms) => setTimeout(fn, ms),
    private readonly shareMs = READ_SHARE_MS,
    private readonly windowMs = READ_WINDOW_MS,
  ) {}

  /**
   * One message was handled, from `since` (this clock) to now. Two clock reads a message: a message from a relay that
   * behaves is one of few (credit, a request's head, an upload's 64 KiB DATA), far under its share.
   */
  spent(since: number): void {
    const now = this.now();
    if (since - this.windowStart >= this.windowMs) {
      this.windowStart = since;
      this.used = 0;
    }
    this.used += now - since;
    if (this.used <= this.shareMs || this.paused) return;
    this.paused = true;
    this.socket.pause();
    this.later(() => {
      this.paused = false;
      this.windowStart = this.now();
      this.used = 0;
      this.socket.resume();
    }, Math.max(1, this.windowStart + this.windowMs - now));
  }

  /** Whether the socket is paused now. */
  get holding(): boolean {
    return this.paused;
  }
}

// The keys that expire while requests of theirs wait in the queue: one timer, armed only while such a key has requests
// waiting, for the earliest expiry among them; they are refused when it passes, not when their turn comes.
import { expiredWhileQueued } from "../core/queued-key-refusals.ts";

/** setTimeout's longest delay (a longer one fires at once): a later expiry is looked at again then. */
const MAX_DELAY = 2 ** 31 - 1;

interface Expiring {
  at: number;
  label: string;
  expiresAt: string;
}

export class QueuedExpiry {
  /** By bucket (the key's hash): those with requests waiting whose key has an expires_at. */
  private readonly keys = new Map<string, Expiring>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedFor = Infinity;

  constructor(
    /** Refuses what the bucket has waiting with `why` (Gate.refuseBucket). */
    private readonly refuse: (bucket: string, why: Error) => void,
    private readonly wallClock: () => number = Date.now,
  ) {}

  /** A request of `bucket` joined the queue; its key expires at `expiresAt` (ISO 8601). Parsed once per key waiting. */
  queued(bucket: string, label: string, expiresAt: string): void {
    if (this.keys.has(bucket)) return;
    const at = Date.parse(expiresAt);
    if (!Number.isFinite(at)) return;
    this.keys.set(bucket, { at, label, expiresAt });
    if (at < this.armedFor) this.arm();
  }

  /** The bucket has nothing waiting any more: no timer for it (none at all when no other key is watched). */
  emptied(bucket: string): void {
    if (!this.keys.delete(bucket)) return;
    if (this.keys.size === 0) this.disarm();
  }

  stop(): void {
    this.keys.clear();
    this.disarm();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
  }

  private arm(): void {
    this.disarm();
    let next = Infinity;
    for (const e of this.keys.values()) next = Math.min(next, e.at);
    if (next === Infinity) return;
    this.armedFor = next;
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_DELAY, Math.max(0, next - this.wallClock())));
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = this.wallClock();
    for (const [bucket, e] of [...this.keys]) {
      if (e.at > now) continue;
      this.keys.delete(bucket);
      this.refuse(bucket, expiredWhileQueued(e.label, e.expiresAt));
    }
    this.arm();
  }
}

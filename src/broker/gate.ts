// Slots and the fair queue: at most max_parallel requests on an upstream (and on a key), the rest waiting in turn,
// round-robin across keys (here or through the tunnel) so one busy script cannot starve the editor, this machine's first on a tie;
// each key may hold only its share of the queue's places, and a key with nothing waiting always gets one.
import { HttpError } from "../core/http-error.ts";
import { QueuedExpiry } from "./queued-expiry.ts";

/** What the gate needs of an upstream: its name (the slot count's key) and its limit (0 = none). */
export interface Slotted {
  readonly name: string;
  readonly maxParallel: number;
}

/** Who is asking: the bucket it waits in (the key's name, or "-" with the caller's class) and the key's own limit. */
export interface Claimant {
  /**
   * The key itself (its hash), not its name: a key revoked and made again under its name is another key, so the
   * requests its predecessor left waiting (refused with 401 when their turn comes) neither hold the new key's share of
   * the queue nor stand before it.
   */
  bucket: string;
  /** How a refusal names the bucket: the key's name (default: the bucket). */
  label?: string;
  /** The key's max_parallel (0 = none). */
  keyLimit: number;
  /** The key's expires_at (ISO 8601), or null/absent for none: its requests waiting are refused when it passes (queued-expiry.ts). */
  expiresAt?: string | null;
  /** Callers not coming through the tunnel (this machine, the LAN) go first between buckets equally due (a tie in the round-robin). */
  local: boolean;
}

export interface Grant<U> {
  upstream: U;
  /** Where the request stood when it joined the queue (0: it did not wait). */
  position: number;
  waitedMs: number;
}

interface Waiter<U extends Slotted> {
  claimant: Claimant;
  candidates: readonly U[];
  since: number;
  resolve(g: Grant<U>): void;
  reject(e: unknown): void;
  done: boolean;
  position: number;
  cleanup(): void;
}

/**
 * Why a waiter left the queue without a slot: a reload swapped the routing table, so what it waits for was decided by
 * the old one. Its caller routes it again by `next` and waits on (acquire with `since`: its queue_timeout still counts
 * from when it first joined).
 */
export class Rerouted<T> {
  constructor(
    readonly next: T,
    /** When it first joined the queue (the gate's clock). */
    readonly since: number,
  ) {}
}

export interface GateLimits {
  queueLimit: number;
  queueTimeoutMs: number;
}

export class Gate<U extends Slotted> {
  private inflight = new Map<string, number>();
  private keyInflight = new Map<string, number>();
  /** Per class (0 local, 1 tunnel): buckets in turn order, each with its waiters in arrival order. */
  private classes: Map<string, Waiter<U>[]>[] = [new Map(), new Map()];
  private waiting = 0;
  /** Requests waiting per bucket (in either class): who holds how many of the queue's places. */
  private perBucket = new Map<string, number>();
  /** Requests that waited, and for how long in total (for metrics and status). */
  stats = { queued: 0, waitedMs: 0, refusedFull: 0, timedOut: 0 };
  /** Why the queue takes no one any more (the daemon is stopping: close()), else null. */
  private closedWith: HttpError | null = null;
  /** The keys with requests waiting that expire: refused when they do (one timer, only while there are such). */
  private readonly expiry = new QueuedExpiry((bucket, why) => this.refuseBucket(bucket, why));

  constructor(
    private readonly limits: () => GateLimits,
    private readonly now: () => number = () => performance.now(),
    /**
     * An upstream's max_parallel now: a request waiting (or arriving) with an upstream object of an older table is held
     * to the limit the running config sets for that name, not to the one its object was made with.
     */
    private readonly limitOf: (u: U) => number = (u) => u.maxParallel,
  ) {}

  /** The grant of a request that did not wait, one per upstream (read only by the attempt; weak: a reload retires upstreams): none made per request. */
  private immediate = new WeakMap<U, Grant<U>>();
  private immediateGrant(u: U): Grant<U> {
    let g = this.immediate.get(u);
    if (!g) this.immediate.set(u, (g = Object.freeze({ upstream: u, position: 0, waitedMs: 0 })));
    return g;
  }

  /** Requests waiting now. */
  get length(): number {
    return this.waiting;
  }

  inFlight(name: string): number {
    return this.inflight.get(name) ?? 0;
  }

  private free(u: U): boolean {
    const limit = this.limitOf(u);
    return limit === 0 || (this.inflight.get(u.name) ?? 0) < limit;
  }

  /** A reload may have raised a limit: the requests waiting that now fit start at once, not when a slot is next given back. */
  wake(): void {
    if (this.waiting > 0) this.dispatch();
  }

  private keyFree(c: Claimant): boolean {
    return c.keyLimit === 0 || (this.keyInflight.get(c.bucket) ?? 0) < c.keyLimit;
  }

  /** When each bucket was last given a slot (a counter): the bucket served longest ago goes next. */
  private served = new Map<string, number>();
  private tick = 0;

  private take(u: U, c: Claimant): void {
    this.served.set(c.bucket, ++this.tick);
    this.inflight.set(u.name, (this.inflight.get(u.name) ?? 0) + 1);
    if (c.keyLimit > 0) this.keyInflight.set(c.bucket, (this.keyInflight.get(c.bucket) ?? 0) + 1);
  }

  /**
   * A slot on the first of `candidates` (in routing order) that has one; when none has, the request waits its turn
   * for whichever of them frees first. Without any limit in play this answers at once, without a promise.
   */
  acquire(candidates: readonly U[], c: Claimant, signal: AbortSignal | null, since?: number): Grant<U> | Promise<Grant<U>> {
    // Requests waiting do not stop this one: after every dispatch none of them can use a free slot (dispatch hands out
    // every slot a waiter can take), so a free one here is a slot no one waits for (another upstream, another model).
    if (this.keyFree(c)) {
      for (const u of candidates) {
        if (this.free(u)) {
          this.take(u, c);
          return this.immediateGrant(u);
        }
      }
    }
    return this.enqueue(candidates, c, signal, since);
  }

  /** The request waits its turn (or is refused a place). Apart from acquire(): its closures would make acquire() allocate a scope on every call, waiting or not. */
  private enqueue(candidates: readonly U[], c: Claimant, signal: AbortSignal | null, since?: number): Promise<Grant<U>> {
    if (this.closedWith) throw this.closedWith;
    const lim = this.limits();
    // A request routed again after a reload (since given) had its place: it takes one again, whatever the queue holds.
    const full = since === undefined ? this.refusal(c, lim.queueLimit) : null;
    if (full) {
      this.stats.refusedFull++;
      throw full;
    }
    return new Promise<Grant<U>>((resolve, reject) => {
      const w: Waiter<U> = { claimant: c, candidates, since: since ?? this.now(), resolve, reject, done: false, position: this.waiting + 1, cleanup: () => {} };
      const cls = this.classes[c.local ? 0 : 1]!;
      let bucket = cls.get(c.bucket);
      if (!bucket) cls.set(c.bucket, (bucket = []));
      bucket.push(w);
      this.waiting++;
      this.perBucket.set(c.bucket, (this.perBucket.get(c.bucket) ?? 0) + 1);
      if (c.expiresAt) this.expiry.queued(c.bucket, c.label ?? c.bucket, c.expiresAt);
      if (since === undefined) this.stats.queued++;
      const timer = setTimeout(() => {
        this.stats.timedOut++;
        this.drop(w, new HttpError("unavailable", `waited ${Math.round(lim.queueTimeoutMs / 1000)} s for a free upstream ([proxy] queue_timeout); every upstream for this model is busy`).after(5));
      }, Math.max(0, lim.queueTimeoutMs - (this.now() - w.since)));
      // A client that goes away leaves the queue at once: it never reaches an upstream.
      const onAbort = () => this.drop(w, new DOMException("the client went away while queued", "AbortError"));
      signal?.addEventListener("abort", onAbort, { once: true });
      w.cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      if (signal?.aborted) onAbort();
      else this.dispatch();
    });
  }

  /**
   * Why this bucket may not wait now, or null. A bucket with nothing waiting always gets a place, even in a full queue,
   * so one key's flood never locks another key out; a bucket already waiting may hold at most its share of queue_limit
   * (queue_limit / buckets waiting, at least one), and nothing more while the queue is full. The queue so holds at most
   * queue_limit requests plus one per other bucket that arrived when it was full. queue_limit 0 means no queue at all.
   */
  private refusal(c: Claimant, limit: number): HttpError | null {
    const bucket = c.bucket;
    const mine = this.perBucket.get(bucket) ?? 0;
    if (limit > 0 && mine === 0) return null;
    const share = Math.max(1, Math.floor(limit / Math.max(1, this.perBucket.size)));
    if (limit > 0 && mine >= share && this.perBucket.size > 1) {
      const who = bucket.startsWith("-") ? "callers without a key" : `the API key "${c.label ?? bucket}"`;
      return new HttpError("rate_limited", `the broker's queue is full for ${who}: ${mine} of its requests wait, its share of the ${limit} places while ${this.perBucket.size} keys wait; retry shortly`).after(1);
    }
    if (this.waiting >= limit || mine >= share) return new HttpError("rate_limited", `the broker's queue is full (${limit} requests wait for a free upstream); retry shortly`).after(1);
    return null;
  }

  private unqueued(bucket: string): void {
    const n = (this.perBucket.get(bucket) ?? 1) - 1;
    if (n > 0) this.perBucket.set(bucket, n);
    else {
      this.perBucket.delete(bucket);
      this.expiry.emptied(bucket);
    }
  }

  /** Gives the slot back and lets the next waiter in. */
  release(u: U, c: Claimant): void {
    const n = (this.inflight.get(u.name) ?? 1) - 1;
    if (n > 0) this.inflight.set(u.name, n);
    else this.inflight.delete(u.name);
    if (c.keyLimit > 0) {
      const k = (this.keyInflight.get(c.bucket) ?? 1) - 1;
      if (k > 0) this.keyInflight.set(c.bucket, k);
      else this.keyInflight.delete(c.bucket);
    }
    if (this.waiting > 0) this.dispatch();
  }

  /**
   * The daemon is stopping: every request waiting is answered with `why` now (it was never sent upstream, so its
   * client may retry elsewhere at once), and none waits from now on; slots freed later go to no one. Returns how many
   * were waiting.
   */
  close(why: HttpError): number {
    this.closedWith ??= why;
    this.expiry.stop();
    const all = this.classes.flatMap((cls) => [...cls.values()].flat());
    for (const w of all) this.drop(w, this.closedWith);
    return all.length;
  }

  /**
   * The requests of `bucket` waiting now leave the queue with `why`, in the order they waited: its key was revoked, so
   * they are refused at once, not when their turn comes (and hold no place meanwhile). Returns how many.
   */
  refuseBucket(bucket: string, why: unknown): number {
    const all = this.classes.flatMap((cls) => cls.get(bucket) ?? []).sort((a, b) => a.since - b.since);
    for (const w of all) this.drop(w, why);
    return all.length;
  }

  /**
   * A reload swapped the routing table: every request waiting leaves the queue with Rerouted(next), in the order it
   * waited, for its caller to route by the new table (an upstream the reload removed is then never its target) and
   * wait again with its old start. Returns how many were waiting.
   */
  reroute<T>(next: T): number {
    const all = this.classes.flatMap((cls) => [...cls.values()].flat()).sort((a, b) => a.since - b.since);
    for (const w of all) {
      if (w.done) continue;
      w.done = true;
      w.cleanup();
      this.remove(w);
      w.reject(new Rerouted(next, w.since));
    }
    return all.length;
  }

  private drop(w: Waiter<U>, e: unknown): void {
    if (w.done) return;
    w.done = true;
    w.cleanup();
    this.remove(w);
    // It waited too (until its timeout or its client left): the summed wait counts it, as `queued` does.
    this.stats.waitedMs += this.now() - w.since;
    w.reject(e);
    // Its place may have held up others behind it in the same bucket.
    if (this.waiting > 0) this.dispatch();
  }

  private remove(w: Waiter<U>): void {
    const cls = this.classes[w.claimant.local ? 0 : 1]!;
    const bucket = cls.get(w.claimant.bucket);
    if (!bucket) return;
    const i = bucket.indexOf(w);
    if (i >= 0) {
      bucket.splice(i, 1);
      this.waiting--;
      this.unqueued(w.claimant.bucket);
    }
    if (bucket.length === 0) cls.delete(w.claimant.bucket);
  }

  /**
   * Hands free slots to waiters: the bucket served longest ago (the slot a key got without waiting counts too), whichever
   * way its requests came, so a key with a hundred requests waiting gets one slot in n, and a flood on this machine
   * cannot starve a caller through the tunnel (nor the reverse). Between buckets equally due (a key waiting both here and
   * through the tunnel, or buckets never served), those not coming through the tunnel go first.
   */
  private dispatch(): void {
    while (this.waiting > 0 && this.closedWith === null) {
      let best: { cls: Map<string, Waiter<U>[]>; name: string; bucket: Waiter<U>[]; u: U; at: number; i: number } | null = null;
      for (const cls of this.classes) {
        for (const [name, bucket] of cls) {
          if (!this.keyFree(bucket[0]!.claimant)) continue;
          const at = this.served.get(name) ?? 0;
          if (best && at >= best.at) continue;
          // The bucket's first request that a free slot serves: one waiting for a busy upstream does not hold back
          // the bucket's requests for another (a caller's two models on two upstreams).
          for (let i = 0; i < bucket.length; i++) {
            const u = bucket[i]!.candidates.find((x) => this.free(x));
            if (u) {
              best = { cls, name, bucket, u, at, i };
              break;
            }
          }
        }
      }
      if (!best) return;
      const w = best.bucket.splice(best.i, 1)[0]!;
      this.waiting--;
      this.unqueued(w.claimant.bucket);
      if (best.bucket.length === 0) best.cls.delete(best.name);
      w.done = true;
      w.cleanup();
      this.take(best.u, w.claimant);
      const waitedMs = this.now() - w.since;
      this.stats.waitedMs += waitedMs;
      w.resolve({ upstream: best.u, position: w.position, waitedMs });
    }
  }
}

// An injectable clock (time and timers) so heartbeat, reconnect and alert-timing tests never sleep.
export interface Clock {
  /** Wall-clock time (ms since 1970): it counts a laptop's sleep, and it jumps when the system clock is set. */
  now(): number;
  /** A clock that never jumps (ms); absent, now() serves. Silence is measured on both (see elapsedSince). */
  monotonic?(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A moment read on both clocks of `c`. */
export interface Instant {
  wall: number;
  mono: number;
}

export function instant(c: Clock): Instant {
  return mark(c, { wall: 0, mono: 0 });
}

/** Sets `t` to now, in place (no allocation: the session marks every message it receives). */
export function mark(c: Clock, t: Instant): Instant {
  t.wall = c.now();
  t.mono = c.monotonic?.() ?? t.wall;
  return t;
}

/**
 * Time since `t`: the larger of the two clocks' spans. A wall clock set back (NTP, a user) would make a silence look
 * negative, so the monotonic span counts; a sleep the monotonic clock may not count (Linux CLOCK_MONOTONIC stops in
 * suspend) shows on the wall clock, so a laptop waking from sleep sees at once that its peer has been silent.
 */
export function elapsedSince(c: Clock, t: Instant): number {
  return Math.max(c.now() - t.wall, (c.monotonic?.() ?? c.now()) - t.mono);
}

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * A manual clock for tests: timers fire only when advance() moves time past them. Its wall clock can be moved apart
 * from its monotonic one (jumpWall: a clock set, a laptop's sleep), as the real ones part.
 */
export class ManualClock implements Clock {
  private t = 0;
  private wallOffset = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t + this.wallOffset;
  }
  monotonic(): number {
    return this.t;
  }
  /**
   * Moves the wall clock alone, firing nothing: set back (-3_600_000, NTP or a user), or on (a sleep, which Linux's
   * CLOCK_MONOTONIC and the timers on it do not count).
   */
  jumpWall(ms: number): void {
    this.wallOffset += ms;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }
}

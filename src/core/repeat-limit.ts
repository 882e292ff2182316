// Lines that anyone on the network can make us write (a refused agent, a refused internal call): the first of each kind per window, then a count.

/**
 * An unauthenticated peer can be refused as fast as it can connect: one warn line per refusal would let it fill the
 * journal (and push out what matters). So each kind (the refusal's reason) is written once per `windowMs`; the next
 * line of that kind, after the window, says how many were left out (`repeated=N`). The metrics count every one.
 * Kinds are bounded: past `maxKinds` in a window, new kinds share one slot.
 */
export class RepeatLimit {
  private readonly kinds = new Map<string, { until: number; left: number }>();

  constructor(
    private readonly windowMs = 10_000,
    private readonly maxKinds = 64,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether to write this occurrence; `repeated` is how many of its kind were left out since the last one written. */
  note(kind: string): { write: boolean; repeated: number } {
    const t = this.now();
    if (!this.kinds.has(kind) && this.kinds.size >= this.maxKinds) {
      for (const [k, v] of this.kinds) if (v.until <= t && v.left === 0) this.kinds.delete(k);
      if (this.kinds.size >= this.maxKinds) kind = "(other)";
    }
    const k = this.kinds.get(kind);
    if (k && t < k.until) {
      k.left++;
      return { write: false, repeated: 0 };
    }
    const repeated = k?.left ?? 0;
    this.kinds.set(kind, { until: t + this.windowMs, left: 0 });
    return { write: true, repeated };
  }
}

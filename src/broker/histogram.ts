// A fixed-size log-linear histogram of milliseconds: bounded memory, mergeable, percentiles within 1/16 relative error.
//
// Each power of two [2^e, 2^(e+1)) ms, from 2^-4 ms to 2^22 ms (~70 min), is split into 16 equal sub-buckets.
// A percentile is reported as the lower bound of the bucket that holds it, clamped to the smallest and largest
// value seen, so small integer values come back exactly (e.g. 50 ms → 50, 1000 ms → 992).
export const SUB_BUCKETS = 16;
const MIN_EXP = -4;
const MAX_EXP = 21;
export const BUCKETS = 1 + (MAX_EXP - MIN_EXP + 1) * SUB_BUCKETS;
const MIN_VALUE = 2 ** MIN_EXP;

export function bucketOf(ms: number): number {
  if (!(ms >= MIN_VALUE)) return 0; // also catches NaN and negatives
  let e = Math.floor(Math.log2(ms));
  if (e > MAX_EXP) return BUCKETS - 1;
  let base = 2 ** e;
  // log2 can be off by one ulp right at a power of two.
  if (ms < base) base = 2 ** --e;
  else if (ms >= base * 2) base = 2 ** ++e;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor((ms / base - 1) * SUB_BUCKETS));
  return 1 + (e - MIN_EXP) * SUB_BUCKETS + sub;
}

export function bucketLowerBound(i: number): number {
  if (i <= 0) return 0;
  const e = Math.floor((i - 1) / SUB_BUCKETS) + MIN_EXP;
  const sub = (i - 1) % SUB_BUCKETS;
  return 2 ** e * (1 + sub / SUB_BUCKETS);
}

export class Histogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  min = Infinity;
  max = -Infinity;
  // The lowest and highest bucket in use: merging and percentiles walk only those, not all 417 (a snapshot runs with
  // every health check; a full walk each time is hot enough at idle to bring in the optimising JIT, docs/performance.md).
  private lo = BUCKETS;
  private hi = -1;

  record(ms: number): void {
    const b = bucketOf(ms);
    this.counts[b]!++;
    this.count++;
    if (b < this.lo) this.lo = b;
    if (b > this.hi) this.hi = b;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  reset(): void {
    if (this.count === 0) return;
    this.counts.fill(0, this.lo, this.hi + 1);
    this.count = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.lo = BUCKETS;
    this.hi = -1;
  }

  add(other: Histogram): void {
    if (other.count === 0) return;
    const a = this.counts;
    const b = other.counts;
    for (let i = other.lo; i <= other.hi; i++) a[i]! += b[i]!;
    this.count += other.count;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** Nearest-rank percentile (p in 0..100); null when empty. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = this.lo; i <= this.hi; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, bucketLowerBound(i)));
    }
    return this.max;
  }
}

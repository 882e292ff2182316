// The bytes of one answer body the relay has not acknowledged yet, by body offset: what a resumed stream replays.

/** Chunks as they came from the upstream (no copies), covering body offsets [start, end). */
export class ResumeBuffer {
  private chunks: Uint8Array[] = [];
  /** Offset of the first byte still held. */
  start = 0;
  /** Offset one past the last byte held (every byte the upstream produced so far). */
  end = 0;

  get size(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (!chunk.length) return;
    this.chunks.push(chunk);
    this.end += chunk.length;
  }

  /** Forgets everything before `offset` (acknowledged); returns how many bytes that freed. */
  dropTo(offset: number): number {
    const to = Math.min(offset, this.end);
    const before = this.start;
    while (this.start < to) {
      const c = this.chunks[0]!;
      if (this.start + c.length <= to) {
        this.chunks.shift();
        this.start += c.length;
      } else {
        this.chunks[0] = c.subarray(to - this.start);
        this.start = to;
      }
    }
    return this.start - before;
  }

  /** The held bytes from `offset` on, up to one stored chunk (a view, no copy); empty at the end. */
  from(offset: number): Uint8Array {
    if (offset < this.start || offset > this.end) throw new RangeError(`offset ${offset} is outside the held bytes [${this.start}, ${this.end})`);
    let at = this.start;
    for (const c of this.chunks) {
      if (offset < at + c.length) return c.subarray(offset - at);
      at += c.length;
    }
    return new Uint8Array(0);
  }
}

// The bytes of one answer body the relay has not acknowledged yet, by body offset: what a resumed stream replays.

/**
 * Chunks as they came from the upstream (no copies), covering body offsets [start, end). A token stream holds thousands
 * of small chunks per window, so reading on (from) and forgetting (dropTo) are amortized O(1): a cursor, no shift().
 */
export class ResumeBuffer {
  private chunks: (Uint8Array | undefined)[] = [];
  /** Index of the first chunk still held (chunks before it are forgotten). */
  private first = 0;
  /** from()'s cursor: a chunk index and the body offset that chunk starts at. */
  private cursor = 0;
  private cursorAt = 0;
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
      const c = this.chunks[this.first]!;
      if (this.start + c.length <= to) {
        this.chunks[this.first++] = undefined;
        this.start += c.length;
      } else {
        this.chunks[this.first] = c.subarray(to - this.start);
        this.start = to;
      }
    }
    if (this.cursor <= this.first) {
      this.cursor = this.first;
      this.cursorAt = this.start;
    }
    // Compact once the forgotten slots outnumber the held ones.
    if (this.first > 1024 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.cursor -= this.first;
      this.first = 0;
    }
    return this.start - before;
  }

  /** The held bytes from `offset` on, up to one stored chunk (a view, no copy); empty at the end. */
  from(offset: number): Uint8Array {
    if (offset < this.start || offset > this.end) throw new RangeError(`offset ${offset} is outside the held bytes [${this.start}, ${this.end})`);
    // A replay goes back: start over from the first chunk held.
    if (offset < this.cursorAt) {
      this.cursor = this.first;
      this.cursorAt = this.start;
    }
    while (this.cursor < this.chunks.length && offset >= this.cursorAt + this.chunks[this.cursor]!.length) {
      this.cursorAt += this.chunks[this.cursor]!.length;
      this.cursor++;
    }
    const c = this.chunks[this.cursor];
    return c ? c.subarray(offset - this.cursorAt) : new Uint8Array(0);
  }
}

// Reads the event names of a Server-Sent Events byte stream, and the data of only the events asked for, without decoding the rest.
//
// Why: a stream passed through unchanged (usage-watcher.ts) needs the names of its events (which one ended it) and the
// data of a few (those that carry the counts), not the text of every token event. Lines are found with native byte
// searches (Uint8Array.indexOf); the data lines of events nobody asked for are skipped where they lie, never copied or
// decoded. An event with no `event:` line (before its data) has its data kept: which event it is is known only from it.

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const DATA = [0x64, 0x61, 0x74, 0x61, COLON]; // "data:"
const EVENT = [0x65, 0x76, 0x65, 0x6e, 0x74]; // "event"

const utf8 = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** What is done with the line being read: its head still being looked at, its bytes kept, or skipped. */
const enum Line {
  Head,
  Keep,
  Skip,
}

export class SseEventScanner {
  /** The current line's bytes while it is looked at or kept (pieces, copied: the chunks go on to the client). */
  private line: Uint8Array[] = [];
  private lineBytes = 0;
  private mode = Line.Head;
  /** The last chunk ended with "\r": a "\n" first in the next one belongs to it. */
  private cr = false;
  /** The current event: its name, whether its data is kept, its data lines so far. */
  private name = "";
  private keep = true;
  private data: Uint8Array[] = [];
  private held = 0;
  private hasData = false;
  /** An event kept grew past the limit: nothing more is read (where the stream ends cannot be told). */
  overflowed = false;

  /**
   * @param wanted whether the data of events of this name is wanted (decoded and handed to `onEvent`)
   * @param onEvent each event as it ends: its name ("" when it has none) and its data (null when not wanted)
   * @param limit the most bytes an event whose data is kept may hold
   */
  constructor(
    private readonly wanted: (name: string) => boolean,
    private readonly onEvent: (name: string, data: string | null) => void,
    private readonly limit: number,
  ) {}

  push(chunk: Uint8Array): void {
    if (this.overflowed) return;
    const n = chunk.length;
    let i = 0;
    if (this.cr) {
      this.cr = false;
      if (n > 0 && chunk[0] === LF) i = 1;
    }
    // The next "\r" is looked for once and remembered: most streams have none, the rest ("\r\n") one per line.
    let nextCr = chunk.indexOf(CR, i);
    while (i < n) {
      let end = chunk.indexOf(LF, i);
      if (nextCr >= 0 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      if (nextCr >= 0 && (end < 0 || nextCr < end)) end = nextCr;
      if (end < 0) {
        this.take(chunk, i, n);
        return;
      }
      if (this.lineBytes === 0 && this.mode === Line.Head) {
        // A whole line in this chunk (the usual case): read where it lies, nothing copied unless its data is kept.
        this.onLine(chunk.subarray(i, end), true);
      } else {
        this.take(chunk, i, end);
        if (this.overflowed) return;
        this.endLine();
      }
      if (this.overflowed) return;
      if (chunk[end] === CR) {
        if (end + 1 >= n) this.cr = true;
        else if (chunk[end + 1] === LF) end++;
      }
      i = end + 1;
    }
  }

  /** The end of the stream: a last line and event without their blank line still count. */
  end(): void {
    if (this.overflowed) return;
    if (this.lineBytes > 0 || this.mode !== Line.Head) this.endLine();
    this.dispatch();
  }

  /** A piece of the current line. */
  private take(chunk: Uint8Array, from: number, to: number): void {
    if (from >= to || this.mode === Line.Skip) return;
    this.line.push(chunk.slice(from, to));
    this.lineBytes += to - from;
    if (this.mode === Line.Head && this.lineBytes >= DATA.length) this.mode = this.classify();
    if (this.mode === Line.Keep && this.held + this.lineBytes > this.limit) {
      this.overflowed = true;
      this.line = [];
      this.data = [];
    }
  }

  /** A line long enough to tell: a data line of an event not wanted, or a comment, is skipped; any other is kept. */
  private classify(): Line {
    const head = this.joined();
    if (head[0] === COLON) return this.drop();
    if (this.keep) return Line.Keep;
    for (let k = 0; k < DATA.length; k++) if (head[k] !== DATA[k]) return Line.Keep;
    this.hasData = true;
    return this.drop();
  }

  private drop(): Line.Skip {
    this.line = [];
    this.lineBytes = 0;
    return Line.Skip;
  }

  private joined(): Uint8Array {
    if (this.line.length === 1) return this.line[0]!;
    const all = new Uint8Array(this.lineBytes);
    let at = 0;
    for (const p of this.line) {
      all.set(p, at);
      at += p.length;
    }
    this.line = [all];
    return all;
  }

  /** The end of a line that came in pieces (take). */
  private endLine(): void {
    const skipped = this.mode === Line.Skip;
    const line = skipped ? EMPTY : this.lineBytes > 0 ? this.joined() : EMPTY;
    this.line = [];
    this.lineBytes = 0;
    this.mode = Line.Head;
    if (!skipped) this.onLine(line, false);
  }

  /** One whole line; `shared`: it lies in the caller's chunk (what is kept of it is copied). */
  private onLine(line: Uint8Array, shared: boolean): void {
    if (line.length === 0) return this.dispatch();
    if (line[0] === COLON) return;
    const colon = line.indexOf(COLON);
    const fieldEnd = colon < 0 ? line.length : colon;
    let from = colon < 0 ? line.length : colon + 1;
    if (line[from] === SPACE) from++;
    const value = line.subarray(from);
    if (fieldEnd === 5 && line[0] === EVENT[0] && line[1] === EVENT[1] && line[2] === EVENT[2] && line[3] === EVENT[3] && line[4] === EVENT[4]) {
      this.named(value);
      if (!this.keep) {
        this.data = [];
        this.held = 0;
      }
    } else if (fieldEnd === 4 && line[0] === DATA[0] && line[1] === DATA[1] && line[2] === DATA[2] && line[3] === DATA[3]) {
      this.hasData = true;
      if (this.keep) {
        this.held += value.length + 1;
        if (this.held > this.limit) {
          this.overflowed = true;
          this.data = [];
          return;
        }
        this.data.push(shared ? value.slice() : value);
      }
    }
  }

  /** The last name read, its bytes and whether it is wanted: a stream names most of its events alike (its tokens'). */
  private lastName = "";
  private lastNameBytes: Uint8Array = EMPTY;
  private lastKeep = true;

  private named(value: Uint8Array): void {
    const last = this.lastNameBytes;
    let same = last.length === value.length;
    for (let k = 0; same && k < value.length; k++) same = last[k] === value[k];
    if (!same) {
      // Names are ASCII (latin1 reads them as they are; another name is wanted by none anyway).
      this.lastName = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1");
      this.lastNameBytes = value.slice();
      this.lastKeep = this.wanted(this.lastName);
    }
    this.name = this.lastName;
    this.keep = this.lastKeep;
  }

  /** A blank line: the event ends (one with no data is no event, as an EventSource has it). */
  private dispatch(): void {
    if (this.hasData) {
      let text: string | null = null;
      if (this.keep) {
        const parts = this.data.map((d) => utf8.decode(d));
        text = parts.length === 1 ? parts[0]! : parts.join("\n");
      }
      this.onEvent(this.name, text);
    }
    this.name = "";
    this.keep = true;
    this.data = [];
    this.held = 0;
    this.hasData = false;
  }
}

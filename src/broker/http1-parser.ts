// Incremental HTTP/1.1 response parser (RFC 9112): status line, headers, and a body framed by Content-Length,
// chunked transfer coding, or the end of the connection. Pure: bytes in, callbacks out; body parts are zero-copy views.
import type { CodeOf } from "../core/error-codes.ts";

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Header names (lower case) and values, alternating, in the order received. */
  headers: string[];
  /** The Content-Length, or -1 when the body is chunked, close-delimited or absent. */
  contentLength: number;
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
  /** Whether a body follows (false for HEAD, 204, 304). */
  hasBody: boolean;
}

export interface ParserSink {
  onHead(head: ResponseHead): void;
  /** A part of the body: a view into the pushed bytes, valid as long as those bytes are. */
  onBody(part: Uint8Array): void;
  /** The message is complete. */
  onEnd(): void;
}

export class HttpParseError extends Error {
  override name = "HttpParseError";
  readonly code: CodeOf<"HttpParseError"> = "upstream_bad_http";
}

/** Heads larger than this are refused: a server sending them is broken or hostile. */
export const MAX_HEAD = 64 * 1024;
/** A header name (RFC 9110 token, lower-cased) and the bytes no header value may hold (the fetch standard's). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const BAD_VALUE = /[\0\r\n]/;
const CRLFCRLF = Buffer.from("\r\n\r\n");

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  Close,
  Done,
}

/** The value of a header in a flat [name, value, ...] list (names lower case), or null. */
export function headerValue(headers: string[], name: string): string | null {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1]!;
  return null;
}

export class ResponseParser {
  private state = State.Head;
  /** A head that came in parts: its bytes so far (headLength of them), in a buffer that doubles as it fills. */
  private head: Buffer | null = null;
  private headLength = 0;
  private remaining = 0;
  /** Partial chunk-size or trailer line carried over between pushes. */
  private line = "";
  /** Bytes received after the end of the message (a server must not send any). */
  extra = 0;

  /** `noBody`: the request was HEAD, so the response has no body whatever its headers say. */
  constructor(
    private readonly sink: ParserSink,
    private readonly noBody = false,
  ) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  /** Whether the head has been parsed. */
  get headDone(): boolean {
    return this.state !== State.Head;
  }

  /** Feeds bytes from the connection. Throws HttpParseError on a malformed message. */
  push(data: Uint8Array): void {
    let buf = data;
    while (buf.byteLength > 0) {
      switch (this.state) {
        case State.Head: {
          const joined = this.head ? this.held(buf) : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
          // Search from where the previous part ended, minus the three bytes a split CRLFCRLF could leave behind.
          const from = this.head ? Math.max(0, this.headLength - 3) : 0;
          const end = joined.indexOf(CRLFCRLF, from);
          if (end < 0) {
            if (joined.byteLength > MAX_HEAD) throw new HttpParseError(`response head larger than ${MAX_HEAD} bytes`);
            // A copy: the connection may reuse the memory of the bytes it handed over.
            if (!this.head) {
              this.head = Buffer.allocUnsafe(Math.max(1024, 2 * joined.byteLength));
              this.head.set(joined);
            }
            this.headLength = joined.byteLength;
            return;
          }
          // Not reused for the next head: the body parts that follow are views of it.
          this.head = null;
          // A whole head that came in one part is held to the same limit as one that came in several.
          if (end > MAX_HEAD) throw new HttpParseError(`response head larger than ${MAX_HEAD} bytes`);
          const informational = this.parseHead(joined.toString("latin1", 0, end));
          buf = joined.subarray(end + 4);
          if (informational) continue;
          // An answer without a body (HEAD, 204, 304, Content-Length: 0) is complete with its head.
          if (this.done) buf = this.finish(buf);
          break;
        }
        case State.Length: {
          buf = this.body(buf);
          if (this.remaining === 0) buf = this.finish(buf);
          break;
        }
        case State.ChunkSize: {
          // Fast path, once per streamed token: a whole "HEX\r\n" line in this part, read straight from the bytes.
          if (this.line === "") {
            let size = 0;
            let i = 0;
            for (; i < 13 && i < buf.byteLength; i++) {
              const d = HEX[buf[i]!]!;
              if (d < 0) break;
              size = size * 16 + d;
            }
            if (i > 0 && i < 13 && buf[i] === 13 && buf[i + 1] === 10) {
              buf = buf.subarray(i + 2);
              this.remaining = size;
              this.state = size === 0 ? State.Trailers : State.ChunkData;
              break;
            }
          }
          const rest = this.readLine(buf);
          if (rest < 0) return;
          buf = buf.subarray(rest);
          const text = this.takeLine();
          const semi = text.indexOf(";");
          const hex = (semi < 0 ? text : text.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new HttpParseError(`malformed chunk size "${hex.slice(0, 20)}"`);
          this.remaining = parseInt(hex, 16);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData: {
          buf = this.body(buf);
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          // The CRLF after a chunk's data (a bare LF is tolerated).
          if (this.line === "" && buf[0] === 13 && buf[1] === 10) {
            buf = buf.subarray(2);
            this.state = State.ChunkSize;
            break;
          }
          const rest = this.readLine(buf);
          if (rest < 0) return;
          buf = buf.subarray(rest);
          if (this.takeLine().trim() !== "") throw new HttpParseError("chunk data longer than its size");
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const rest = this.readLine(buf);
          if (rest < 0) return;
          buf = buf.subarray(rest);
          // Trailer fields are read and dropped; the empty line ends the message.
          if (this.takeLine().trim() === "") buf = this.finish(buf);
          break;
        }
        case State.Close:
          this.sink.onBody(buf);
          return;
        case State.Done:
          this.extra += buf.byteLength;
          return;
      }
    }
  }

  /** The connection ended: completes a close-delimited body; throws when the message was cut short. */
  eof(): void {
    if (this.state === State.Close) return void this.finish(EMPTY);
    if (this.state === State.Done) return;
    throw new HttpParseError(this.state === State.Head ? "connection closed before a response" : "connection closed in the middle of the response body");
  }

  /**
   * The head held so far with `part` added, as one view. Appended in place (the buffer doubles when full): a head that
   * trickles in a byte at a time costs its length in copies, not its length squared (64 KiB of them was half a second
   * of the main thread per head, and a server may send 1xx heads without end).
   */
  private held(part: Uint8Array): Buffer {
    const n = this.headLength + part.byteLength;
    if (n > this.head!.byteLength) {
      const grown = Buffer.allocUnsafe(Math.max(n, 2 * this.head!.byteLength));
      grown.set(this.head!.subarray(0, this.headLength));
      this.head = grown;
    }
    this.head!.set(part, this.headLength);
    return this.head!.subarray(0, n);
  }

  /** Hands the sink up to `remaining` body bytes (a view, no copy); returns what follows them. */
  private body(buf: Uint8Array): Uint8Array {
    const n = Math.min(this.remaining, buf.byteLength);
    this.remaining -= n;
    if (n === buf.byteLength) {
      this.sink.onBody(buf);
      return EMPTY;
    }
    this.sink.onBody(buf.subarray(0, n));
    return buf.subarray(n);
  }

  /** Carries bytes up to the next LF into the current line; returns where the rest starts, or -1 when the line goes on. */
  private readLine(buf: Uint8Array): number {
    const nl = buf.indexOf(10);
    if (nl < 0) {
      this.addLine(buf);
      return -1;
    }
    this.addLine(buf.subarray(0, nl));
    return nl + 1;
  }

  private addLine(part: Uint8Array): void {
    if (this.line.length + part.byteLength > 8192) throw new HttpParseError("chunk or trailer line too long");
    this.line += Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString("latin1");
  }

  private takeLine(): string {
    const s = this.line;
    this.line = "";
    return s;
  }

  /**
   * The message is complete; `rest` (what followed it in the same push) is counted in `extra` before the sink hears of
   * the end, so a socket whose server sent more than its answer is not reused for the next request (its bytes, a
   * response to a request never sent, would be that request's answer). Returns nothing left to parse.
   */
  private finish(rest: Uint8Array): Uint8Array {
    this.extra += rest.byteLength;
    this.state = State.Done;
    this.sink.onEnd();
    return EMPTY;
  }

  /** Parses a head; returns true for a 1xx interim response (skipped: the final one follows). */
  private parseHead(text: string): boolean {
    const lines = text.split("\r\n");
    const statusLine = lines[0]!;
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(statusLine);
    if (!m) throw new HttpParseError(`malformed status line "${statusLine.slice(0, 60)}"`);
    const minor = m[1]!;
    const status = Number(m[2]);
    const headers: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let connection = "";
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const colon = l.indexOf(":");
      if (colon <= 0) throw new HttpParseError(`malformed header line "${l.slice(0, 60)}"`);
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim();
      // What the client's Headers would refuse (a NUL, a bare CR or LF, a name that is not a token) is the upstream's
      // malformed answer, not a failure inside the broker when its head is passed on.
      if (!TOKEN.test(name) || BAD_VALUE.test(value)) throw new HttpParseError(`malformed header line "${JSON.stringify(l.slice(0, 60)).slice(1, -1)}"`);
      headers.push(name, value);
      if (name === "content-length") {
        if (!/^\d{1,15}$/.test(value) || (contentLength >= 0 && Number(value) !== contentLength)) throw new HttpParseError(`invalid Content-Length "${value.slice(0, 30)}"`);
        contentLength = Number(value);
      } else if (name === "transfer-encoding") {
        chunked = /(^|,)\s*chunked\s*$/i.test(value);
        if (!chunked) throw new HttpParseError(`unsupported Transfer-Encoding "${value.slice(0, 30)}"`);
      } else if (name === "connection") connection += "," + value.toLowerCase();
    }
    if (status < 200) {
      if (status === 101) throw new HttpParseError("the upstream switched protocols");
      return true;
    }
    const hasBody = !this.noBody && status !== 204 && status !== 304;
    let keepAlive = minor === "1" ? !/(^|,)\s*close\s*(,|$)/.test(connection) : /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3), but a server that sent both framed its answer in a way
    // something between may read otherwise ("ought to be handled as an error"): its connection is not used again, so a
    // body that was really Content-Length-framed can never leave bytes read as the next request's answer.
    if (chunked && contentLength >= 0) keepAlive = false;
    if (chunked) contentLength = -1;
    if (!hasBody) this.state = State.Done;
    else if (chunked) this.state = State.ChunkSize;
    else if (contentLength >= 0) this.state = contentLength === 0 ? State.Done : State.Length;
    else {
      this.state = State.Close;
      keepAlive = false;
    }
    this.remaining = contentLength;
    this.sink.onHead({ status, statusText: m[3] ?? "", headers, contentLength: hasBody ? contentLength : -1, keepAlive, hasBody });
    return false;
  }
}

const EMPTY = new Uint8Array(0);
/** Hex digit values by byte (-1: not a hex digit). */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

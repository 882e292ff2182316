// A keep-alive HTTP/1.1 client over Bun.connect for plain http:// upstreams: one pool of idle sockets per upstream.
//
// Why not fetch: Bun's fetch runs on its own HTTP thread and costs about as much CPU per request again as the rest
// of the broker. This client runs on the main thread, writes a request as one buffer, hands body parts on as views
// of the received bytes, enforces connect_timeout (fetch cannot), and closes the socket the moment a request is
// aborted, which stops the upstream generation.
import type { Socket, SocketHandler } from "bun";
import { clientHeadersOf, upstreamHeaderLines } from "./headers.ts";
import { HttpParseError, ResponseParser, headerValue, type ParserSink, type ResponseHead } from "./http1-parser.ts";
import type { AttemptSignal, ReadResult, UpstreamClient, UpstreamReply, UpstreamRequest } from "./upstream-types.ts";
import type { Upstream } from "./upstream.ts";
import type { CodeOf } from "../core/error-codes.ts";
import { netErrorWords } from "../net/net-error-words.ts";

/** Idle sockets kept per upstream; more are closed when their request ends. */
export const MAX_IDLE = 32;
/** An idle socket is closed after this long (below common server keep-alive timeouts, like undici's 4 s). */
export const IDLE_TIMEOUT_MS = 4000;
/** Body bytes queued for a reader that is behind before the socket stops reading (backpressure toward the upstream). */
const HIGH_WATER = 64 * 1024;
/** Request bodies up to this size are sent in the same write as the head (and chunks of a chunked body with their framing). */
const COALESCE = 64 * 1024;
const CRLF = Buffer.from("\r\n");

/** A failure talking to the upstream; `errno` follows the system error names describeFetchError knows. */
export class UpstreamConnError extends Error {
  override name = "UpstreamConnError";
  readonly code: CodeOf<"UpstreamConnError"> = "upstream_connection";
  constructor(
    message: string,
    readonly errno: string,
    /** Nothing came back on a socket that had served a request before: the server had closed it (safe to resend). */
    readonly stale = false,
  ) {
    super(message);
  }
}

function abortError(): Error {
  return new DOMException("The operation was aborted.", "AbortError");
}

class Conn {
  sock: Socket<Conn> | null = null;
  reply: Http1Reply | null = null;
  closed = false;
  /** Served a request before (a failure with no byte back may be a server-side keep-alive close). */
  reused = false;
  idleSince = 0;
  /** A connect that gave up (timeout, abort): the socket is closed as soon as it opens. */
  abandoned = false;
  constructor(readonly pool: Http1Pool) {}

  terminate(): void {
    this.closed = true;
    this.sock?.terminate();
  }
}

const handlers: SocketHandler<Conn> = {
  open(sock) {
    if (sock.data.abandoned) sock.terminate();
  },
  data(sock, chunk) {
    const r = sock.data.reply;
    // Bytes on an idle socket: the server is confused; never reuse it.
    if (!r) return sock.data.terminate();
    r.onData(chunk);
  },
  drain(sock) {
    sock.data.reply?.onDrain();
  },
  end(sock) {
    // The server closed its side: a close-delimited body ends here; nothing more will come either way.
    sock.data.closed = true;
    sock.data.reply?.onClose(null);
    sock.end();
  },
  close(sock, err) {
    const c = sock.data;
    c.closed = true;
    c.pool.forget(c);
    c.reply?.onClose(err ?? null);
  },
  error(sock, err) {
    sock.data.reply?.onClose(err);
  },
};

export class Http1Pool implements UpstreamClient {
  private readonly hostname: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private readonly basePath: string;
  private idle: Conn[] = [];
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly u: Upstream,
    private readonly opts = { maxIdle: MAX_IDLE, idleTimeoutMs: IDLE_TIMEOUT_MS },
  ) {
    const url = new URL(u.base);
    if (url.protocol !== "http:") throw new Error(`the HTTP/1.1 client serves http:// upstreams only, not ${url.protocol}`);
    this.hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port ? Number(url.port) : 80;
    this.hostHeader = url.host;
    this.basePath = url.pathname.replace(/\/+$/, "");
  }

  /** Idle sockets right now (for tests). */
  get idleCount(): number {
    return this.idle.length;
  }

  /**
   * Not async (an async frame per request costs a generator, scopes and promises): on an idle socket the reply's own
   * promise is the answer. A kept-alive socket the server closed meanwhile is retried by the reply (resend()).
   */
  send(req: UpstreamRequest): Promise<UpstreamReply> {
    const head = this.head(req);
    const conn = this.takeIdle();
    if (conn) return new Http1Reply(conn, req, head, true).start();
    return this.onNewConnection(req, head, true);
  }

  /** The request once more on a new connection (its first socket was a stale keep-alive one): no further retry. */
  resend(req: UpstreamRequest, head: string): Promise<UpstreamReply> {
    return this.onNewConnection(req, head, false);
  }

  private async onNewConnection(req: UpstreamRequest, head: string, mayRetry: boolean): Promise<UpstreamReply> {
    const conn = await this.connect(req.signal);
    return new Http1Reply(conn, req, head, mayRetry).start();
  }

  /** Closes the idle sockets. Sockets of requests in flight return to the pool afterwards and idle out. */
  close(): void {
    for (const c of this.idle) c.terminate();
    this.idle = [];
  }

  /** A request ended with the socket reusable. */
  release(c: Conn): void {
    c.reply = null;
    if (c.closed || this.idle.length >= this.opts.maxIdle) return c.terminate();
    c.reused = true;
    c.idleSince = performance.now();
    this.idle.push(c);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(1000, this.opts.idleTimeoutMs));
      this.sweeper.unref?.();
    }
  }

  /** A socket closed: never hand it out again. */
  forget(c: Conn): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private sweep(): void {
    const limit = performance.now() - this.opts.idleTimeoutMs;
    // Oldest first (the stack's bottom).
    while (this.idle.length && this.idle[0]!.idleSince <= limit) this.idle.shift()!.terminate();
    if (this.idle.length === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private takeIdle(): Conn | null {
    // Newest first: the warmest socket, and the least likely to have been closed by the server.
    for (let c = this.idle.pop(); c; c = this.idle.pop()) if (!c.closed) return c;
    return null;
  }

  private connect(signal: AttemptSignal): Promise<Conn> {
    if (signal.aborted) return Promise.reject(abortError());
    const conn = new Conn(this);
    const ms = this.u.connectTimeoutMs;
    return new Promise<Conn>((resolve, reject) => {
      let settled = false;
      const giveUp = (e: Error) => {
        if (settled) return;
        settled = true;
        conn.abandoned = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        reject(e);
      };
      const onAbort = () => giveUp(abortError());
      const timer = setTimeout(() => giveUp(new UpstreamConnError(`no connection within ${this.u.config.connect_timeout} (connect_timeout)`, "ETIMEDOUT")), ms);
      signal.addEventListener("abort", onAbort);
      Bun.connect<Conn>({ hostname: this.hostname, port: this.port, socket: handlers, data: conn }).then(
        (sock) => {
          conn.sock = sock;
          if (settled) return sock.terminate();
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          sock.setNoDelay?.(true);
          resolve(conn);
        },
        // A failed connection only (never per request): the code in net-error-words.ts's short words, as fetch's are.
        (e: Error & { code?: string }) => giveUp(new UpstreamConnError(netErrorWords(e.code)?.what ?? e.message, e.code ?? "ECONNREFUSED")),
      );
    });
  }

  /** Request line, Host, the client's headers by the rules of headers.ts, and the body's framing. */
  private head(req: UpstreamRequest): string {
    let s = `${req.method} ${this.basePath}${this.u.withQuery(req.target)} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n${upstreamHeaderLines(req.headers, this.u, req.headerJson ?? null)}`;
    const b = req.body;
    if (b instanceof Uint8Array) s += `content-length: ${b.byteLength}\r\n`;
    else if (b) s += req.bodyLength >= 0 ? `content-length: ${req.bodyLength}\r\n` : "transfer-encoding: chunked\r\n";
    else if (req.method === "POST" || req.method === "PUT" || req.method === "PATCH") s += "content-length: 0\r\n";
    return s + "\r\n";
  }
}

/** One request on one socket: writing it, parsing the answer, and the reply handed to the broker. */
class Http1Reply implements UpstreamReply, ParserSink {
  status = 0;
  statusText = "";
  hasBody = false;
  private headers: string[] = [];
  private readonly parser: ResponseParser;
  private resolveHead: ((r: UpstreamReply) => void) | null = null;
  private rejectHead: ((e: Error) => void) | null = null;
  private gotBytes = false;
  private requestWritten = false;
  private pendingOut: Uint8Array | null = null;
  private drained: (() => void) | null = null;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private paused = false;
  private ended = false;
  private failed: Error | null = null;
  private waiter: { resolve: (r: ReadResult) => void; reject: (e: Error) => void } | null = null;
  /** Finished one way or the other: the socket is released or closed, later events are ignored. */
  private over = false;
  /** The answer allows another request on this socket (HTTP/1.1 without Connection: close, framed body). */
  private keepAlive = false;

  constructor(
    private readonly conn: Conn,
    private readonly req: UpstreamRequest,
    private readonly headText: string,
    /** A stale keep-alive socket may be replaced once (send()); false on the replacement. */
    private readonly mayRetry: boolean,
  ) {
    this.parser = new ResponseParser(this, req.method === "HEAD");
  }

  start(): Promise<UpstreamReply> {
    // withResolvers: no executor closure (and scope) per request.
    const { promise: p, resolve, reject } = Promise.withResolvers<UpstreamReply>();
    this.resolveHead = resolve;
    this.rejectHead = reject;
    this.conn.reply = this;
    // Never removed: a late abort after the end is ignored (`over`), and removing costs more than it saves.
    this.req.signal.addEventListener("abort", this);
    if (this.req.signal.aborted) {
      this.handleEvent();
      return p;
    }
    const b = this.req.body;
    if (b instanceof ReadableStream) {
      this.write(Buffer.from(this.headText, "latin1"));
      void this.pump(b.getReader());
    } else if (b && b.byteLength > COALESCE) {
      this.write(Buffer.from(this.headText, "latin1"));
      this.write(b);
      if (!this.pendingOut) this.requestWritten = true;
    } else {
      const n = Buffer.byteLength(this.headText, "latin1");
      const out = Buffer.allocUnsafe(n + (b ? b.byteLength : 0));
      out.write(this.headText, 0, "latin1");
      if (b) out.set(b, n);
      this.write(out);
      if (!this.pendingOut) this.requestWritten = true;
    }
    return p;
  }

  // --- writing ------------------------------------------------------------------------------------------------

  /** Writes what the socket takes now; returns false when the rest waits for drain (pendingOut). */
  private write(data: Uint8Array): boolean {
    if (this.over) return false;
    if (this.pendingOut) {
      this.pendingOut = Buffer.concat([this.pendingOut, data]);
      return false;
    }
    const n = this.conn.sock!.write(data);
    if (n >= data.byteLength) return true;
    this.pendingOut = data.subarray(Math.max(0, n));
    return false;
  }

  onDrain(): void {
    const rest = this.pendingOut;
    if (!rest || this.over) return;
    this.pendingOut = null;
    if (!this.write(rest)) return;
    if (!(this.req.body instanceof ReadableStream)) this.requestWritten = true;
    const d = this.drained;
    this.drained = null;
    d?.();
  }

  /** Streams a request body with backpressure: the next part is read only once the socket took the last one. */
  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const chunked = this.req.bodyLength < 0;
    // A sized body is framed by the Content-Length the head declared: the upstream reads any byte past it as the start of
    // another request nobody checked, and waits on a body that falls short. What the stream hands over is counted.
    let left = this.req.bodyLength;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.over || done) break;
        if (!value || value.byteLength === 0) continue;
        if (!chunked && (left -= value.byteLength) < 0) throw new Error(`the body is longer than the ${this.req.bodyLength} bytes its Content-Length declared`);
        let ok: boolean;
        if (chunked && value.byteLength > COALESCE) {
          // A large part (the held prefix of a body that outgrew the replay buffer) is written as it is between its
          // size line and CRLF: framing it in a new buffer would copy megabytes. Each write waits for the last to drain,
          // since a write behind a pending one is joined to it (a copy again).
          ok = this.write(Buffer.from(value.byteLength.toString(16) + "\r\n", "latin1"));
          if (!ok && !this.over) await new Promise<void>((r) => (this.drained = r));
          if (this.over) break;
          ok = this.write(value);
          if (!ok && !this.over) await new Promise<void>((r) => (this.drained = r));
          if (this.over) break;
          ok = this.write(CRLF);
        } else if (chunked) {
          const size = value.byteLength.toString(16) + "\r\n";
          const out = Buffer.allocUnsafe(size.length + value.byteLength + 2);
          out.write(size, 0, "latin1");
          out.set(value, size.length);
          out.write("\r\n", size.length + value.byteLength, "latin1");
          ok = this.write(out);
        } else ok = this.write(value);
        if (this.over) break;
        if (!ok) await new Promise<void>((r) => (this.drained = r));
        if (this.over) break;
      }
      if (this.over) {
        void reader.cancel().catch(() => {});
        return;
      }
      if (!chunked && left > 0) throw new Error(`the body ended ${left} bytes short of the ${this.req.bodyLength} its Content-Length declared`);
      if (chunked) this.write(Buffer.from("0\r\n\r\n"));
      if (this.pendingOut) await new Promise<void>((r) => (this.drained = r));
      this.requestWritten = true;
    } catch (e) {
      // The client's body failed (it went away mid-upload) or broke its length: the request cannot be completed.
      void reader.cancel().catch(() => {});
      this.fail(new UpstreamConnError(`the request body could not be read: ${(e as Error).message}`, "ECONNRESET"));
    }
  }

  // --- reading ------------------------------------------------------------------------------------------------

  onData(chunk: Uint8Array): void {
    this.gotBytes = true;
    try {
      this.parser.push(chunk);
    } catch (e) {
      this.fail(e instanceof HttpParseError ? new UpstreamConnError(`invalid HTTP response: ${e.message}`, "EPROTO") : (e as Error));
    }
  }

  onClose(err: Error | null): void {
    if (this.over) return;
    try {
      this.parser.eof();
    } catch {
      const reset = (err as { code?: string } | null)?.code === "ECONNRESET";
      const msg = this.parser.headDone ? "connection closed in the middle of the response body" : reset ? "connection reset" : "connection closed before a response";
      this.fail(new UpstreamConnError(msg, reset ? "ECONNRESET" : "ECONNCLOSED", !this.gotBytes && this.conn.reused));
    }
  }

  onHead(h: ResponseHead): void {
    this.status = h.status;
    this.statusText = h.statusText;
    this.headers = h.headers;
    this.hasBody = h.hasBody;
    this.keepAlive = h.keepAlive;
    const r = this.resolveHead;
    this.resolveHead = this.rejectHead = null;
    // Answered: no retry can send a sized body again, and this reply lives as long as the answer streams, so it lets
    // go of the body (an open stream must not hold its request body: tests/broker/stream-memory.test.ts). The request
    // object is this attempt's own; mutating it allocates nothing on the hot path.
    if (!(this.req.body instanceof ReadableStream)) this.req.body = null;
    r?.(this);
  }

  onBody(part: Uint8Array): void {
    if (this.over) return;
    this.queue.push(part);
    this.queued += part.byteLength;
    if (this.waiter) return this.wake();
    if (this.queued > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.conn.sock?.pause();
    }
  }

  onEnd(): void {
    this.ended = true;
    // An answer that ended before the request was all sent (an early error) leaves the socket unusable: settle closes it.
    this.settle();
    if (this.waiter) this.wake();
  }

  /** The message is complete: the socket goes back to the pool when it can carry another request. */
  private settle(): void {
    if (this.over) return;
    this.over = true;
    if (this.paused) this.conn.sock?.resume();
    if (this.keepAlive && this.requestWritten && this.parser.extra === 0 && !this.conn.closed) this.conn.pool.release(this.conn);
    else {
      this.conn.reply = null;
      this.conn.terminate();
    }
  }

  private fail(e: Error): void {
    if (this.over) return;
    this.failed = e;
    this.over = true;
    this.conn.reply = null;
    this.conn.terminate();
    const rej = this.rejectHead;
    const res = this.resolveHead;
    this.resolveHead = this.rejectHead = null;
    if (rej) {
      // A kept-alive socket the server closed meanwhile: once more on a new connection, when the body allows.
      if (e instanceof UpstreamConnError && e.stale && this.mayRetry && !(this.req.body instanceof ReadableStream) && !this.req.signal.aborted) {
        this.conn.pool.resend(this.req, this.headText).then(res!, rej);
        return;
      }
      return rej(e);
    }
    const d = this.drained;
    this.drained = null;
    d?.();
    if (this.waiter) this.wake();
  }

  /** The request's signal aborted (client gone, first-byte timeout): close the socket at once, as cancel() does. */
  handleEvent(): void {
    this.cancel();
  }

  private wake(): void {
    const w = this.waiter!;
    if (this.queue.length) {
      this.waiter = null;
      w.resolve(this.take());
    } else if (this.ended) {
      this.waiter = null;
      w.resolve({ done: true, value: [] });
    } else if (this.failed) {
      this.waiter = null;
      w.reject(this.failed);
    }
  }

  private take(): ReadResult {
    const value = this.queue;
    this.queue = [];
    this.queued = 0;
    if (this.paused && !this.over) {
      this.paused = false;
      this.conn.sock?.resume();
    }
    return { done: this.ended, value };
  }

  // --- UpstreamReply -----------------------------------------------------------------------------------------

  header(name: string): string | null {
    return headerValue(this.headers, name);
  }

  clientHeaders(): Headers {
    return clientHeadersOf(this.headers);
  }

  read(): Promise<ReadResult> | ReadResult {
    if (this.queue.length) return this.take();
    if (this.ended) return { done: true, value: [] };
    if (this.failed) return Promise.reject(this.failed);
    if (this.waiter) return Promise.reject(new Error("a read is already pending"));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  bytes(): Promise<Uint8Array> {
    const now = this.bytesNow();
    return now !== null ? Promise.resolve(now) : this.collect();
  }

  bytesNow(): Uint8Array | null {
    // The common case: a small answer that came whole with its head. Taken in place (no read result, no new queue):
    // the reply has ended, so the socket is no longer paused for it.
    if (!this.ended || this.queue.length > 1) return null;
    if (this.queue.length === 0) return new Uint8Array(0);
    const whole = this.queue[0]!;
    this.queue.length = 0;
    this.queued = 0;
    return whole;
  }

  private async collect(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const r = this.read();
      const { done, value } = r instanceof Promise ? await r : r;
      for (const v of value) parts.push(v);
      if (done) break;
    }
    return parts.length === 1 ? parts[0]! : parts.length === 0 ? new Uint8Array(0) : Buffer.concat(parts);
  }

  cancel(): void {
    if (this.over) return;
    this.queue = [];
    this.queued = 0;
    this.fail(abortError());
  }
}

// One HTTP/1.1 request over a raw socket: the request target goes out byte for byte (no client normalizes "//", "%72" or "/./").
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The body, de-chunked; for a 101 answer, empty (the socket is closed at once). */
  body: string;
  /** Status line, headers and body as received (for "nothing private anywhere" checks). */
  raw: string;
}

function dechunk(s: string): string {
  let out = "";
  let i = 0;
  for (;;) {
    const eol = s.indexOf("\r\n", i);
    if (eol < 0) return out + s.slice(i);
    const size = parseInt(s.slice(i, eol), 16);
    if (!(size > 0)) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

/** Whether `data` holds a whole answer: a server may keep the socket open (an upgrade request's error answer, a 101). */
function complete(data: Buffer, method: string): boolean {
  const sep = data.indexOf("\r\n\r\n");
  if (sep < 0) return false;
  const head = data.toString("latin1", 0, sep).toLowerCase();
  // A 101 keeps the socket open for WebSocket frames: the status line is all that matters; HEAD answers have no body.
  if (/^http\/1\.[01] (101|204|304) /.test(head) || method === "HEAD") return true;
  const len = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (len) return data.length - (sep + 4) >= Number(len[1]);
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) return data.includes("\r\n0\r\n\r\n", sep) || data.indexOf("0\r\n\r\n", sep + 4) === sep + 4;
  return false;
}

/** Sends `method target` to host:port with the given header lines (the Host header is added unless given) and reads the whole answer. */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  opts: { headers?: Record<string, string>; body?: string; host?: string; timeoutMs?: number; chunked?: boolean } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { host: opts.host ?? `127.0.0.1:${port}`, connection: "close", ...opts.headers };
  let body = opts.body;
  // chunked: the body in two chunks (or none), ended by the last chunk, with no Content-Length.
  if (body !== undefined && opts.chunked) {
    headers["transfer-encoding"] = "chunked";
    const half = body.slice(0, body.length >> 1);
    body = [half, body.slice(half.length)].filter((p) => p !== "").map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join("") + "0\r\n\r\n";
  } else if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  const head = `${method} ${target} HTTP/1.1\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1", () => sock.write(head + (body ?? "")));
    let data = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = data.toString("utf8");
      const sep = text.indexOf("\r\n\r\n");
      const headText = sep < 0 ? text : text.slice(0, sep);
      const [statusLine = "", ...lines] = headText.split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const hdrs: Record<string, string> = {};
      for (const l of lines) {
        const c = l.indexOf(":");
        if (c > 0) hdrs[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      const rest = sep < 0 ? "" : text.slice(sep + 4);
      const body = status === 101 ? "" : hdrs["transfer-encoding"]?.includes("chunked") ? dechunk(rest) : rest;
      resolve({ status, headers: hdrs, body, raw: text });
    };
    const timer = setTimeout(() => (data.length ? finish() : (sock.destroy(), reject(new Error(`no answer to ${method} ${target}`)))), opts.timeoutMs ?? 5000);
    sock.on("data", (c: Buffer) => {
      data = Buffer.concat([data, c]);
      if (complete(data, method)) finish();
    });
    sock.on("end", finish);
    sock.on("close", finish);
    sock.on("error", (e) => (data.length ? finish() : (clearTimeout(timer), reject(e))));
  });
}

/** Resolves with how long `s` stayed open (ms) once the server closes it, or null if it is still open after `waitMs`. */
export function closedWithin(s: Socket, waitMs: number): Promise<number | null> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), waitMs);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
    s.on("error", () => {});
  });
}

/** Slowloris: a request head sent one byte every `everyMs`, never finished; stop() ends the drip. */
export function trickleHead(port: number, head: string, everyMs = 400): { socket: Socket; stop(): void } {
  const socket = connect(port, "127.0.0.1");
  let i = 0;
  const drip = setInterval(() => {
    if (!socket.destroyed && i < head.length) socket.write(head[i++]!);
  }, everyMs);
  return { socket, stop: () => clearInterval(drip) };
}

/** The bytes the first answer in `data` takes (head, body), or -1 while it is incomplete. 1xx interim answers count as answers. */
function answerLength(data: Buffer, method: string): number {
  const sep = data.indexOf("\r\n\r\n");
  if (sep < 0) return -1;
  const head = data.toString("latin1", 0, sep).toLowerCase();
  const start = sep + 4;
  if (/^http\/1\.[01] (1\d\d|204|304) /.test(head) || method === "HEAD") return start;
  const len = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (len) return data.length - start >= Number(len[1]) ? start + Number(len[1]) : -1;
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
    const end = data.indexOf("0\r\n\r\n", start);
    return end < 0 ? -1 : end + 5;
  }
  return -1;
}

/** One kept-alive connection: requests written as given, answers read one at a time (null once the server closed it). */
export interface RawConversation {
  write(bytes: string): void;
  /** The next answer (`method`: the request's, for HEAD), or null when the connection closed (or `ms` passed) first. */
  next(method?: string, ms?: number): Promise<(RawResponse & { bytes: Buffer }) | null>;
  readonly closed: boolean;
  /** Everything received and not yet read by next(), as text; emptied. */
  drain(): { text: string };
  close(): void;
}

export async function rawConversation(port: number): Promise<RawConversation> {
  const sock = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  let data = Buffer.alloc(0);
  let closed = false;
  let wake: (() => void) | null = null;
  sock.on("data", (c: Buffer) => {
    data = Buffer.concat([data, c]);
    wake?.();
  });
  sock.on("close", () => {
    closed = true;
    wake?.();
  });
  sock.on("error", () => {});
  return {
    write: (bytes) => void sock.write(bytes),
    get closed() {
      return closed;
    },
    close: () => void sock.destroy(),
    drain() {
      const text = data.toString("latin1");
      data = Buffer.alloc(0);
      return { text };
    },
    async next(method = "GET", ms = 5000) {
      const until = performance.now() + ms;
      for (;;) {
        const n = answerLength(data, method);
        if (n >= 0) {
          const one = data.subarray(0, n);
          data = data.subarray(n);
          const text = one.toString("utf8");
          const sep = text.indexOf("\r\n\r\n");
          const bytes = one.subarray(one.indexOf("\r\n\r\n") + 4);
          const [statusLine = "", ...lines] = text.slice(0, sep).split("\r\n");
          const headers: Record<string, string> = {};
          for (const l of lines) headers[l.slice(0, l.indexOf(":")).trim().toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
          const rest = text.slice(sep + 4);
          return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: headers["transfer-encoding"]?.includes("chunked") ? dechunk(rest) : rest, raw: text, bytes };
        }
        const left = until - performance.now();
        if (closed || left <= 0) return null;
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          wake = () => (clearTimeout(t), r());
        });
        wake = null;
      }
    },
  };
}

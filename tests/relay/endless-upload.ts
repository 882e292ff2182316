// An upload that never ends, over a raw socket: how far a relay reads a refused call's body before its answer
// (src/relay/bounded-drain.ts), and what its sender sees.
import { expect } from "bun:test";
import { connect as tcp } from "node:net";
import { TUNNEL_ID } from "../tunnel/helpers.ts";

export interface EndlessUpload {
  /** What the relay answered (head and body as received). */
  head: string;
  /** Body bytes the socket took. */
  sent: number;
  /** Body bytes the socket had taken when the answer's first bytes arrived (-1: none arrived). */
  sentAtAnswer: number;
  /** The relay closed the connection. */
  closed: boolean;
  ms: number;
}

/** A wrong key, a chunked body. */
export const BAD_KEY_CHUNKED = "Authorization: Bearer not-the-key\r\nTransfer-Encoding: chunked\r\n";

export interface EndlessUploadOptions {
  /** Request head lines (default: a wrong key, chunked). */
  lines?: string;
  path?: string;
  /** Stop sending once the answer's head arrived, as curl does on an error answer during its upload. */
  stopOnAnswer?: boolean;
}

/**
 * Sends a body that never ends (a chunk every `everyMs`, or as fast as the socket takes them) with a wrong key (or
 * `o.lines`); resolves with what the relay answered, how many body bytes the socket took, and whether the relay closed
 * the connection.
 */
export function endlessUpload(port: number, chunk: number, everyMs: number, giveUpMs: number, o: EndlessUploadOptions = {}): Promise<EndlessUpload> {
  const lines = o.lines ?? BAD_KEY_CHUNKED;
  const path = o.path ?? `/t/${TUNNEL_ID}/api/chat`;
  const chunked = /transfer-encoding: chunked/i.test(lines);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = tcp(port, "127.0.0.1");
    let head = "";
    let sent = 0;
    let sentAtAnswer = -1;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      sock.destroy();
      resolve({ head, sent, sentAtAnswer, closed, ms: performance.now() - t0 });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    const data = Buffer.alloc(chunk, 0x61);
    const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.toString(16)}\r\n`), data, Buffer.from("\r\n")]) : data;
    const answered = () => o.stopOnAnswer && head.includes("\r\n\r\n");
    const pump = () => {
      if (done || answered()) return;
      if (everyMs > 0) {
        sock.write(frame, () => (sent += chunk));
        timer = setTimeout(pump, everyMs);
        return;
      }
      // As fast as the socket takes them: the next chunk when the last one is flushed.
      while (!done && !answered() && sock.write(frame)) sent += chunk;
      sent += chunk;
    };
    sock.on("drain", () => everyMs === 0 && pump());
    sock.on("data", (b) => {
      if (sentAtAnswer < 0) sentAtAnswer = sent;
      head += b.toString("latin1");
    });
    sock.on("end", () => finish(true));
    sock.on("close", () => finish(true));
    sock.on("error", () => {
      // A reset while still sending: the relay closed the connection (its answer may have arrived first).
      finish(true);
    });
    sock.on("connect", () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n${lines}\r\n`);
      pump();
    });
  });
}

/**
 * The answer to a client still sending when the bound cuts it: the refusal, closing its connection. It arrives before
 * the close (the relay's lingering close, src/relay/lingering-close.ts): closing at once on bytes it never read, the
 * relay's kernel sent a reset right behind the answer, and the client's kernel could drop the answer unread.
 */
export function refusedClosing(head: string, status: number): void {
  expect(head).toStartWith(`HTTP/1.1 ${status}`);
  expect(head.toLowerCase()).toContain("connection: close");
}

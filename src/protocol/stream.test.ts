// A stream's failure as its users see it: the onFailure() callbacks, the signal made on first use (aborted already when
// the stream failed before anyone asked), and the response head's promise made on first use.
import { describe, expect, test } from "bun:test";
import type { Frame } from "./messages.ts";
import { Stream, StreamError } from "./stream.ts";

const host = () => {
  const sent: Frame[] = [];
  return { sent, host: { sendFrame: (f: Frame) => void sent.push(f), release: () => {} } };
};

describe("stream failure", () => {
  test("onFailure callbacks run once, with the error, when the stream is reset", () => {
    const s = new Stream(1, host().host, 1024);
    const seen: string[] = [];
    s.onFailure((e) => seen.push(`a:${e.code}`));
    s.onFailure((e) => seen.push(`b:${e.code}`));
    expect(s.failure).toBeNull();
    s.onReset("cancel", "the client went away");
    s.fail(new StreamError("session_closed", "later", false));
    expect(seen).toEqual(["a:cancel", "b:cancel"]);
    expect(s.failure?.code).toBe("cancel");
  });

  test("onFailure on a stream that failed already runs in a microtask", async () => {
    const s = new Stream(1, host().host, 1024);
    s.fail(new StreamError("session_closed", "gone", true));
    const seen: string[] = [];
    s.onFailure((e) => seen.push(e.code));
    expect(seen).toEqual([]);
    await Promise.resolve();
    expect(seen).toEqual(["session_closed"]);
  });

  test("a signal asked for after the failure is aborted with its error; one asked for before aborts with it", () => {
    const before = new Stream(1, host().host, 1024);
    const signal = before.signal;
    expect(signal.aborted).toBe(false);
    before.onReset("refused", "no");
    expect(signal.aborted).toBe(true);
    expect((signal.reason as StreamError).code).toBe("refused");
    const after = new Stream(3, host().host, 1024);
    after.onReset("timeout", "slow");
    expect(after.signal.aborted).toBe(true);
    expect((after.signal.reason as StreamError).code).toBe("timeout");
  });

  test("the response head resolves or rejects whether it is asked for before or after it came", async () => {
    const early = new Stream(1, host().host, 1024);
    const p = early.responseHead;
    early.onResponseHead({ status: 200, headers: [] });
    expect((await p).status).toBe(200);
    const late = new Stream(3, host().host, 1024);
    late.onResponseHead({ status: 201, headers: [] });
    late.fail(new StreamError("cancel", "after the head", false));
    expect((await late.responseHead).status).toBe(201);
    const failed = new Stream(5, host().host, 1024);
    failed.onReset("refused", "busy");
    await expect(failed.responseHead).rejects.toThrow("busy");
  });
});

describe("a whole answer when its session goes", () => {
  test("both ends done, bytes still unread: the loss of the session leaves them to the reader, then the end", async () => {
    const s = new Stream(1, host().host, 1024);
    s.end();
    s.onData(new TextEncoder().encode("the last line\n"));
    s.onEnd();
    s.fail(new StreamError("session_closed", "the tunnel connection closed", true));
    expect(s.failure).toBeNull();
    expect(new TextDecoder().decode((await s.next())!)).toBe("the last line\n");
    expect(await s.next()).toBeNull();
    expect(s.done).toBe(true);
  });

  test("a reset still drops them, and a stream whose END has not come fails as before", async () => {
    const reset = new Stream(1, host().host, 1024);
    reset.end();
    reset.onData(new Uint8Array([1]));
    reset.onEnd();
    reset.fail(new StreamError("cancel", "the client went away", false));
    expect(await reset.next().then(() => "read", (e) => e.code)).toBe("cancel");
    const open = new Stream(3, host().host, 1024);
    open.end();
    open.onData(new Uint8Array([1]));
    open.fail(new StreamError("session_closed", "gone", true));
    expect(await open.next().then(() => "read", (e) => e.code)).toBe("session_closed");
  });
});

describe("a small body and the end of a stream without promises", () => {
  test("sendNow sends a body within its credit as one DATA and END at once; over the credit or failed, it leaves it to send()", () => {
    const h = host();
    const s = new Stream(1, h.host, 1024);
    expect(s.sendNow(new Uint8Array(1024).fill(1))).toBe(true);
    expect(h.sent.map((f) => f.type)).toEqual(["DATA", "END"]);
    expect(s.bytesOut).toBe(1024);
    const empty = host();
    expect(new Stream(3, empty.host, 1024).sendNow(new Uint8Array(0))).toBe(true);
    expect(empty.sent.map((f) => f.type)).toEqual(["END"]);
    const over = host();
    expect(new Stream(5, over.host, 1024).sendNow(new Uint8Array(1025))).toBeNull();
    expect(over.sent).toEqual([]);
    const reset = host();
    const r = new Stream(7, reset.host, 1024);
    r.onReset("cancel", "gone");
    expect(r.sendNow(new Uint8Array(1))).toBeNull();
  });

  test("whenFinished runs once at release (or at once after it), and finished still resolves", async () => {
    const s = new Stream(1, host().host, 1024);
    let n = 0;
    s.whenFinished(() => n++);
    s.end();
    expect(n).toBe(0);
    s.onEnd();
    expect(n).toBe(1);
    await s.finished;
    const done = new Stream(3, host().host, 1024);
    const p = done.finished;
    done.end();
    done.onEnd();
    await p;
    let m = 0;
    done.whenFinished(() => m++);
    expect(m).toBe(1);
    expect(() => done.whenFinished(() => {})).not.toThrow();
  });
});

describe("a request body the answer did not need", () => {
  test("discardIncoming drops what is queued and what still comes, without a RESET: the stream is released at the peer's END", () => {
    let released = 0;
    const sent: Frame[] = [];
    const s = new Stream(1, { sendFrame: (f: Frame) => void sent.push(f), release: () => void released++ }, 1024);
    expect(s.onData(new Uint8Array(100))).toBe(true);
    // Answered (our END) without reading: before, the 100 bytes kept the stream open for good.
    s.end();
    s.discardIncoming();
    expect({ released, buffered: s.buffered }).toEqual({ released: 0, buffered: 0 });
    // More of the upload: dropped, yet still within the window (no credit is given back for it).
    expect(s.onData(new Uint8Array(900))).toBe(true);
    expect(s.buffered).toBe(0);
    expect(s.onData(new Uint8Array(100))).toBe(false);
    s.onEnd();
    expect(released).toBe(1);
    expect(sent.map((f) => f.type)).toEqual(["END"]);
  });

  test("the relay's side: the answer's END while the request body waits for credit stops the body with END (no RESET, the answer intact); the stream is released", async () => {
    // The agent answered without reading a body larger than the window (a 413) and drops the rest without credit: before,
    // the relay's pump waited for credit until stall_timeout, holding one of max_streams and the daemon's shutdown.
    let released = 0;
    const sent: Frame[] = [];
    const s = new Stream(1, { sendFrame: (f: Frame) => void sent.push(f), release: () => void released++ }, 1024);
    let cancelled: unknown = null;
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => (i++ < 10 ? c.enqueue(new Uint8Array(512)) : c.close()),
      cancel: (why) => void (cancelled = why),
    });
    const pumped = s.pump(body, 0, undefined, true);
    await Bun.sleep(1);
    expect(sent.filter((f) => f.type === "DATA").length).toBe(2);
    s.onResponseHead({ status: 413, headers: [] });
    s.onData(new TextEncoder().encode("too large"));
    s.onEnd();
    expect(await pumped).toBe(true);
    expect(sent.map((f) => f.type)).toEqual(["DATA", "DATA", "END"]);
    expect(cancelled).not.toBeNull();
    expect(s.failure).toBeNull();
    expect(released).toBe(0);
    // The answer is still there for the client to read, then the stream is released.
    expect(new TextDecoder().decode(await new Response(s.readable).arrayBuffer())).toBe("too large");
    expect(released).toBe(1);
  });

  test("the agent's side: the request's END while its answer is pumped changes nothing (the request is complete, the answer goes on)", async () => {
    const sent: Frame[] = [];
    const s = new Stream(1, { sendFrame: (f: Frame) => void sent.push(f), release: () => {} }, 1024);
    let i = 0;
    const pumped = s.pump(new ReadableStream<Uint8Array>({ pull: (c) => (i++ < 3 ? c.enqueue(new Uint8Array(512)) : c.close()) }));
    await Bun.sleep(1);
    s.onEnd();
    s.onWindowUpdate(2048);
    expect(await pumped).toBe(true);
    expect(sent.map((f) => f.type)).toEqual(["DATA", "DATA", "DATA", "END"]);
  });

  test("with the peer's END already in, discardIncoming releases the stream at once", () => {
    let released = 0;
    const s = new Stream(1, { sendFrame: () => {}, release: () => void released++ }, 1024);
    s.onData(new Uint8Array(10));
    s.onEnd();
    s.end();
    expect(released).toBe(0);
    s.discardIncoming();
    expect(released).toBe(1);
  });
});

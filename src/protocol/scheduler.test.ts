// The frame scheduler: urgent frames first, DATA by deficit round robin across streams while blocked, a stream's own order kept.
import { describe, expect, test } from "bun:test";
import { decodeMessage, encode } from "./codec.ts";
import type { Frame } from "./messages.ts";
import { FrameScheduler, QUANTUM } from "./scheduler.ts";
import { Session } from "./session.ts";

const data = (stream: number, n: number): Frame => ({ type: "DATA", stream, data: new Uint8Array(n).fill(stream) });
const name = (b: Uint8Array) => `${({ 0x10: "HEAD", 0x12: "DATA", 0x13: "END", 0x14: "RESET", 0x15: "WU" } as Record<number, string>)[b[0]!]}${(b[2]! << 24) | (b[3]! << 16) | (b[4]! << 8) | b[5]!}`;
function push(s: FrameScheduler, f: Frame): void {
  s.push(encode(f), f.stream);
}
function drain(s: FrameScheduler): string[] {
  const out = s.takeUrgent().map(name);
  for (let f = s.next(); f; f = s.next()) out.push(name(f));
  return out;
}
const head = (stream: number): Frame => ({ type: "REQUEST_HEAD", stream, body: { method: "POST", path: "/api/chat", headers: [] } });

describe("FrameScheduler", () => {
  test("not blocked, nothing queued: every frame leaves in the order written (the hot path)", () => {
    const s = new FrameScheduler();
    for (const f of [head(1), data(1, 10), { type: "END", stream: 1 } as Frame, head(3)]) push(s, f);
    expect(drain(s)).toEqual(["HEAD1", "DATA1", "END1", "HEAD3"]);
    expect(s.pending).toBe(false);
  });

  test("small DATA frames of one stream written back to back before they leave are joined into one frame of up to 16 KiB, bytes in order; large frames, other streams' frames and a frame between keep them apart", () => {
    // A relay forwarding a client's body of 3,000 one-byte chunks in one turn: before, 3,000 frames for the agent to decode.
    const s = new FrameScheduler();
    push(s, head(1));
    for (let i = 0; i < 3000; i++) push(s, { type: "DATA", stream: 1, data: new Uint8Array([i & 0xff]) });
    push(s, { type: "END", stream: 1 });
    const out = s.takeUrgent().map((b) => decodeMessage(b));
    expect(out.map((f) => f.type)).toEqual(["REQUEST_HEAD", "DATA", "END"]);
    const body = (out[1] as { data: Uint8Array }).data;
    expect(body.length).toBe(3000);
    expect(body.every((b, i) => b === (i & 0xff))).toBe(true);
    // 40,000 bytes: frames of at most 16 KiB; a 2 KiB frame is left as it is, and so are frames of another stream or
    // behind a PING (a fence), and what waits while the transport is backed up joins the same way.
    for (let i = 0; i < 40_000; i++) push(s, data(3, 1));
    push(s, data(3, 2048));
    push(s, data(3, 1));
    push(s, data(5, 1));
    push(s, data(3, 1));
    push(s, { type: "PING", stream: 0, opaque: new Uint8Array(8) });
    push(s, data(3, 1));
    s.blocked = true;
    for (let i = 0; i < 100; i++) push(s, data(7, 1));
    const sizes = [...s.takeUrgent(), ...[s.next()!]].map((b) => { const f = decodeMessage(b); return `${f.type}${f.stream}:${f.type === "DATA" ? f.data.length : 0}`; });
    expect(sizes).toEqual(["DATA3:16384", "DATA3:16384", "DATA3:7232", "DATA3:2048", "DATA3:1", "DATA5:1", "DATA3:1", "PING0:0", "DATA3:1", "DATA7:100"]);
    expect(s.next()).toBeNull();
  });

  test("blocked: a new stream's head and small body leave before another stream's queued bulk DATA", () => {
    const s = new FrameScheduler();
    push(s, head(1));
    s.blocked = true;
    for (let i = 0; i < 4; i++) push(s, data(1, 64 * 1024));
    push(s, head(3));
    push(s, data(3, 200));
    push(s, { type: "END", stream: 3 });
    push(s, { type: "WINDOW_UPDATE", stream: 5, increment: 1000 });
    expect(s.queuedData).toBeGreaterThan(4 * 64 * 1024);
    // Urgent: heads and credit at once; then stream 3's body and END in its first turn, while stream 1 saves up for its
    // 64 KiB frames a QUANTUM per turn.
    expect(drain(s)).toEqual(["HEAD1", "HEAD3", "WU5", "DATA3", "END3", "DATA1", "DATA1", "DATA1", "DATA1"]);
  });

  test("two bulk streams share the link frame for frame (deficit round robin), each in its own order", () => {
    const s = new FrameScheduler();
    s.blocked = true;
    for (let i = 0; i < 3; i++) push(s, data(1, QUANTUM));
    for (let i = 0; i < 3; i++) push(s, data(3, QUANTUM));
    push(s, { type: "END", stream: 1 });
    expect(drain(s)).toEqual(["DATA1", "DATA3", "DATA1", "DATA3", "DATA1", "END1", "DATA3"]);
  });

  test("an END waits behind its stream's queued DATA; a RESET goes at once and drops the stream's queue", () => {
    const s = new FrameScheduler();
    s.blocked = true;
    push(s, data(1, 100));
    push(s, { type: "END", stream: 1 });
    push(s, data(3, 100));
    push(s, { type: "RESET", stream: 3, body: { code: "cancel", reason: "gone" } });
    expect(drain(s)).toEqual(["RESET3", "DATA1", "END1"]);
  });
});

describe("a session's sender with a backed-up transport", () => {
  test("a second request's head and body leave before the first stream's queued upload, and the upload follows on drain", async () => {
    const sent: string[] = [];
    let backlog = 1 << 20; // the transport is full
    const relay = new Session({ role: "relay", window: 1 << 20, sink: { send: (b) => sent.push(name(b)), close: () => {}, backlog: () => backlog } });
    const upload = relay.open({ method: "POST", path: "/api/blobs/x", headers: [] });
    const writing = upload.write(new Uint8Array(256 * 1024));
    const chat = relay.open({ method: "POST", path: "/api/chat", headers: [] });
    await chat.send(new TextEncoder().encode('{"model":"m"}'));
    await writing;
    // Heads leave at once; DATA waits in the session while the transport holds more than BACKLOG_MARK.
    expect(sent).toEqual(["HEAD1", "HEAD3"]);
    backlog = 0;
    relay.drained();
    expect(sent).toEqual(["HEAD1", "HEAD3", "DATA3", "END3", "DATA1", "DATA1", "DATA1", "DATA1"]);
    relay.close("normal", "test over");
  });
});

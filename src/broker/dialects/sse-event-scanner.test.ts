// The byte-level SSE scanner reads the same events as the decoder (names, and the data of those asked for), however the
// stream is cut into chunks and whatever its line ends; the data of other events is never kept.
import { expect, test } from "bun:test";
import { SseDecoder } from "./sse-decoder.ts";
import { SseEventScanner } from "./sse-event-scanner.ts";

const enc = new TextEncoder();
const wanted = (name: string) => name === "usage" || name === "message_delta";

function scan(bytes: Uint8Array, size: number, limit = 1 << 20) {
  const out: { event: string; data: string | null }[] = [];
  const s = new SseEventScanner(wanted, (event, data) => out.push({ event, data }), limit);
  for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
  s.end();
  return { events: out, overflowed: s.overflowed };
}

function decoded(bytes: Uint8Array) {
  const d = new SseDecoder();
  return [...d.push(bytes), ...d.end()].map((e) => ({ event: e.event, data: e.event === "" || wanted(e.event) ? e.data : null }));
}

const STREAM = [
  ": a comment\n\n",
  "event: message_start\ndata: {\"a\":1}\n\n",
  "event: content_block_delta\ndata: {\"text\":\"é ü 日本\"}\n\n",
  "event: message_delta\ndata: {\"usage\":\n",
  "data: {\"x\":2}}\nid: 7\n\n",
  "data: {\"unnamed\":\"ü\"}\n\n",
  "data: {\"before\":1}\nevent: usage\n\n",
  "data: {\"before\":2}\nevent: other\n\n",
  "event: lone\n\n",
  "event: message_delta\ndata\n\n",
  "event: message_stop\ndata: {\"type\":\"message_stop\"}",
].join("");

test("the same events as the SSE decoder, for every chunk size and line end (LF, CRLF, CR); data only of events wanted or unnamed", () => {
  for (const eol of ["\n", "\r\n", "\r"]) {
    const bytes = enc.encode(STREAM.replace(/\n/g, eol));
    const want = decoded(bytes);
    expect(want.length).toBe(8);
    for (const size of [1, 2, 3, 5, 7, 13, 64, bytes.length]) expect({ eol, size, events: scan(bytes, size).events }).toEqual({ eol, size, events: want });
  }
});

test("an event not wanted is skipped however large; a wanted one past the limit stops the reading (overflowed)", () => {
  const big = "x".repeat(5000);
  const skipped = scan(enc.encode(`event: content_block_delta\ndata: ${big}\n\nevent: message_stop\ndata: {}\n\n`), 100, 1000);
  expect(skipped).toEqual({ events: [{ event: "content_block_delta", data: null }, { event: "message_stop", data: null }], overflowed: false });
  const over = scan(enc.encode(`event: message_delta\ndata: ${big}\n\nevent: message_stop\ndata: {}\n\n`), 100, 1000);
  expect(over).toEqual({ events: [], overflowed: true });
});

// The SSE decoder's events across chunks and line ends, and sseText.
import { expect, test } from "bun:test";
import { sseText } from "../../core/sse-text.ts";
import { SseDecoder } from "./sse-decoder.ts";

const enc = new TextEncoder();

test("events split across chunks come out whole, named or not; comments are skipped", () => {
  const d = new SseDecoder();
  expect(d.push(enc.encode('event: message_start\ndata: {"a"'))).toEqual([]);
  expect(d.push(enc.encode(':1}\n\n: ping comment\n\ndata: {"b":2}\n\ndata: [DO'))).toEqual([
    { event: "message_start", data: '{"a":1}' },
    { event: "", data: '{"b":2}' },
  ]);
  expect(d.end()).toEqual([{ event: "", data: "[DO" }]);
});

test("CRLF line ends and multi-line data", () => {
  const d = new SseDecoder();
  expect(d.push(enc.encode("data: x\r\ndata: y\r\n\r\n"))).toEqual([{ event: "", data: "x\ny" }]);
  expect(d.end()).toEqual([]);
});

test("sseText writes one event", () => {
  expect(sseText("ping", { type: "ping" })).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  expect(sseText("", "[DONE]")).toBe("data: [DONE]\n\n");
});

test("a CRLF or an event's end split between chunks, and an event in many small pieces, come out as sent", () => {
  const d = new SseDecoder();
  expect(d.push(enc.encode("data: x\r"))).toEqual([]);
  expect(d.push(enc.encode("\n\r"))).toEqual([]);
  expect(d.push(enc.encode("\ndata: y\n"))).toEqual([{ event: "", data: "x" }]);
  expect(d.push(enc.encode("\n"))).toEqual([{ event: "", data: "y" }]);
  const text = 'event: e\ndata: {"long":"' + "a".repeat(1000) + '"}\n\n';
  const pieces: unknown[] = [];
  for (let i = 0; i < text.length; i += 3) pieces.push(...d.push(enc.encode(text.slice(i, i + 3))));
  expect(pieces).toEqual([{ event: "e", data: '{"long":"' + "a".repeat(1000) + '"}' }]);
});

test("an event that grows past the limit is dropped, and nothing more is decoded", () => {
  const d = new SseDecoder(10);
  expect(d.push(enc.encode("data: 1234"))).toEqual([]);
  expect(d.overflowed).toBe(false);
  expect(d.push(enc.encode("67890"))).toEqual([]);
  expect(d.overflowed).toBe(true);
  expect(d.push(enc.encode("\n\ndata: x\n\n"))).toEqual([]);
  expect(d.end()).toEqual([]);
});

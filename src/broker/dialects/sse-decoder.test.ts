import { expect, test } from "bun:test";
import { SseDecoder, sseText } from "./sse-decoder.ts";

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

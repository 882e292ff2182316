// The last bytes of an answer cut short, in the path's dialect.
import { expect, test } from "bun:test";
import { HttpError } from "../core/http-error.ts";
import { cutShortTail } from "./cut-short.ts";

const dec = new TextDecoder();

test("an SSE answer cut short ends with an error event in the path's dialect: Anthropic's on /v1/messages, OpenAI's elsewhere", () => {
  const err = new HttpError("tunnel_offline", "gone");
  expect(dec.decode(cutShortTail(err, "text/event-stream", 10, true, { path: "/v1/messages" })!)).toBe(`\nevent: error\ndata: {"type":"error","error":{"type":"api_error","message":"gone"}}\n\n`);
  expect(dec.decode(cutShortTail(err, "text/event-stream", 10, true, { path: "/v1/chat/completions" })!)).toContain('data: {"error":{"message":"gone","type":"server_error","code":"tunnel_offline","param":null}}');
  expect(dec.decode(cutShortTail(err, "text/event-stream", 10, true, { path: "/v1/responses" })!)).toBe(`\nevent: error\ndata: {"type":"error","code":"tunnel_offline","message":"gone","param":null}\n\n`);
  expect(cutShortTail(err, "application/json", 10, true, { path: "/v1/messages" })).toBeNull();
});

import { expect, test } from "bun:test";
import { HttpError } from "../core/http-error.ts";
import { queuedSseResponse } from "./queued-sse.ts";

test("comments while waiting, then the answer's bytes as they come", async () => {
  let answer!: (r: Response) => void;
  const res = queuedSseResponse(new Promise<Response>((r) => (answer = r)), 3, 20);
  expect(res.headers.get("x-queue-position")).toBe("3");
  const reading = res.text();
  await Bun.sleep(70);
  answer(new Response('data: {"x":1}\n\ndata: [DONE]\n\n', { headers: { "content-type": "text/event-stream" } }));
  const text = await reading;
  expect(text.startsWith(": queued at position 3\n\n: still queued\n\n")).toBe(true);
  expect(text.endsWith('data: {"x":1}\n\ndata: [DONE]\n\n')).toBe(true);
});

test("a refusal after the head is an SSE error event in OpenAI's shape with the stable code; a client gone ends quietly", async () => {
  const refused = queuedSseResponse(Promise.resolve(new HttpError("unavailable", "waited 120 s for a free upstream").toDialectResponse("/v1/chat/completions")), 1);
  const text = await refused.text();
  const event = text.split("\n\n").find((e) => e.startsWith("event: error"))!;
  expect(JSON.parse(event.split("data: ")[1]!)).toEqual({ error: { message: "waited 120 s for a free upstream", type: "server_error", code: "unavailable", param: null } });
  const gone = await queuedSseResponse(Promise.resolve(new Response(null, { status: 499 })), 1).text();
  expect(gone).toBe(": queued at position 1\n\n");
});

// HEAD over a tunnel stream, with and without held (resumable) answers: the agent sends the head with the length a GET
// would get and no body, even when its handler answered with one; the relay declares that length and ends the stream.
import { expect, test } from "bun:test";
import { forward, serveStream } from "./http-over-stream.ts";
import { AnswerResumes } from "./resumable-answer.ts";
import { Session } from "./session.ts";
import type { Stream } from "./stream.ts";

const BODY = JSON.stringify({ error: "model management (/api/pull) is not allowed through the tunnel" });

/** A relay and an agent session over an in-memory pipe; the agent answers every stream with `handler`. */
function pair(handler: (req: Request) => Promise<Response>, held: boolean): Session {
  let relay!: Session;
  let agent!: Session;
  const deliver = (to: () => Session, b: Uint8Array) => queueMicrotask(() => to().receive(b));
  const resumes = held ? new AnswerResumes() : undefined;
  relay = new Session({ role: "relay", sink: { send: (b) => deliver(() => agent, b), close: () => {} }, onResume: () => {} });
  agent = new Session({ role: "agent", sink: { send: (b) => deliver(() => relay, b), close: () => {} }, onStream: (s) => void serveStream(s, handler, { resume: resumes }) });
  resumes?.attach(agent);
  return relay;
}

test("a HEAD answered with a body: the head crosses with its length, no body byte does, and the relay's stream ends", async () => {
  for (const held of [false, true]) {
    for (const declared of [true, false]) {
      const relay = pair(async () => new Response(BODY, { status: 403, headers: declared ? { "content-type": "application/json", "content-length": String(BODY.length) } : { "content-type": "application/json" } }), held);
      let stream!: Stream;
      const res = await forward(relay, new Request("http://relay/x", { method: "HEAD" }), "/api/pull", { onStream: (s) => (stream = s) });
      const what = { held, declared };
      expect({ ...what, status: res.status, length: res.headers.get("content-length"), body: res.body }).toEqual({ ...what, status: 403, length: String(BODY.length), body: null });
      await stream.finished;
      expect({ ...what, bytesFromAgent: stream.bytesIn }).toEqual({ ...what, bytesFromAgent: 0 });
    }
  }
});

test("a header value with a byte no upstream takes as sent (a control character, DEL, a character beyond a byte) is a 400 in the caller's dialect: the handler never sees it", async () => {
  const seen: string[] = [];
  const relay = pair(async (req) => (seen.push(req.headers.get("x-a") ?? ""), new Response("ok")), false);
  // What Bun's Headers keeps (it refuses only NUL, CR and LF) and a hostile relay's encoder can send beyond it.
  for (const [path, value, shape] of [
    ["/api/chat", "a\x01b", { error: expect.stringContaining("control character") }],
    ["/api/chat", "a\x1bb", { error: expect.stringContaining("control character") }],
    ["/v1/chat/completions", "a\x7fb", { error: expect.objectContaining({ type: "invalid_request_error", message: expect.stringContaining("control character") }) }],
    ["/api/chat", "a\u010ab", { error: expect.stringContaining("control character") }],
  ] as const) {
    const stream = relay.open({ method: "POST", path, headers: [["x-a", value], ["content-length", "2"]] });
    stream.write(new TextEncoder().encode("{}"));
    stream.end();
    const head = await stream.responseHead;
    const res = { status: head.status, body: await new Response(stream.readable).text() };
    expect({ value, status: res.status, body: JSON.parse(res.body) }).toEqual({ value, status: 400, body: shape });
  }
  // A tab and the bytes above ASCII (obs-text, as Bun's parser hands them over) are values like any other.
  const ok = await forward(relay, new Request("http://relay/x", { method: "GET", headers: { "x-a": "a\tb\u00e9" } }), "/api/tags");
  expect(ok.status).toBe(200);
  expect(seen).toEqual(["a\tb\u00e9"]);
});

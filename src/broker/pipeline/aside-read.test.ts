// The GET beside an attempt's request: its JSON body when the upstream answers 2xx with JSON in time, else null, never a
// rejection; it ends with the request's own signal and at its deadline, and holds no more than BUFFER_LIMIT.
import { expect, test } from "bun:test";
import { BUFFER_LIMIT } from "../request-body.ts";
import { Attempt, type UpstreamClient, type UpstreamReply, type UpstreamRequest } from "../upstream-client.ts";
import { asideRead } from "./aside-read.ts";

const enc = new TextEncoder();

function replyOf(status: number, parts: Uint8Array[]): UpstreamReply & { cancelled: boolean } {
  let i = 0;
  return {
    status,
    statusText: "",
    hasBody: parts.length > 0,
    cancelled: false,
    header: () => null,
    clientHeaders: () => new Headers(),
    bytes: async () => Buffer.concat(parts),
    read: () => ({ done: ++i >= parts.length, value: parts.slice(i - 1, i) }),
    cancel() {
      this.cancelled = true;
    },
  };
}

/** A client whose send answers with `answer` (a reply, a rejection, or a promise that never settles). */
function clientOf(answer: (req: UpstreamRequest) => Promise<UpstreamReply>): UpstreamClient & { sent: UpstreamRequest[] } {
  const sent: UpstreamRequest[] = [];
  return {
    sent,
    send: (req) => {
      sent.push(req);
      return answer(req);
    },
    close() {},
  };
}

const request = (signal = new Attempt()): UpstreamRequest => ({ method: "POST", target: "/api/show", headers: new Headers({ "content-type": "application/json" }), body: enc.encode("{}"), bodyLength: 2, signal });

test("a 2xx JSON answer: its body; the GET carries the request's headers and no body", async () => {
  const c = clientOf(async () => replyOf(200, [enc.encode('{"default_generation_'), enc.encode('settings":{"n_ctx":4096}}')]));
  const req = request();
  expect(await asideRead(c, "/props?model=m&autoload=false", req)).toEqual({ default_generation_settings: { n_ctx: 4096 } });
  expect(c.sent[0]).toMatchObject({ method: "GET", target: "/props?model=m&autoload=false", body: null, bodyLength: 0 });
  expect(c.sent[0]!.headers).toBe(req.headers);
  // Its own signal: ending the read never aborts the request it runs beside.
  expect(c.sent[0]!.signal).not.toBe(req.signal);
});

test("another status, a body that is not JSON, an unreachable upstream, a body over BUFFER_LIMIT: null, never a rejection", async () => {
  const notFound = replyOf(404, [enc.encode('{"error":{"code":404}}')]);
  expect(await asideRead(clientOf(async () => notFound), "/props", request())).toBeNull();
  expect(notFound.cancelled).toBe(true);
  expect(await asideRead(clientOf(async () => replyOf(200, [enc.encode("<html>")])), "/props", request())).toBeNull();
  expect(await asideRead(clientOf(async () => Promise.reject(new Error("ECONNREFUSED"))), "/props", request())).toBeNull();
  const huge = replyOf(200, [{ byteLength: BUFFER_LIMIT + 1 } as unknown as Uint8Array]);
  expect(await asideRead(clientOf(async () => huge), "/props", request())).toBeNull();
  expect(huge.cancelled).toBe(true);
});

test("an upstream that never answers: null at the deadline, its GET aborted", async () => {
  const c = clientOf(() => new Promise<UpstreamReply>(() => {}));
  expect(await asideRead(c, "/props", request(), 20)).toBeNull();
  expect(c.sent[0]!.signal.aborted).toBe(true);
});

test("the request's signal aborts (the client left): null at once, its GET aborted; already aborted: the same", async () => {
  const c = clientOf(() => new Promise<UpstreamReply>(() => {}));
  const signal = new Attempt();
  const read = asideRead(c, "/props", request(signal), 60_000);
  signal.abort();
  expect(await read).toBeNull();
  expect(c.sent[0]!.signal.aborted).toBe(true);
  const gone = new Attempt();
  gone.abort();
  expect(await asideRead(c, "/props", request(gone), 60_000)).toBeNull();
});

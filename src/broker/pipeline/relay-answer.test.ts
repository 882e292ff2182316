// Unit tests for the relay stage: the head the client gets (Server-Timing, queue position), a small answer read whole,
// a stream relayed chunk by chunk, and a small answer broken off as an error in the request's dialect.
import { expect, test } from "bun:test";
import { kit, kitConfig, records, reply, upstreams } from "../../../tests/helpers/pipeline-kit.ts";
import { relayAnswer } from "./relay-answer.ts";

function accepted(path = "/api/generate") {
  const k = kit(kitConfig(upstreams("a")));
  const ex = k.exchange(path);
  ex.model = "m";
  ex.bodyRead = 100;
  ex.sentAt = 103.5;
  ex.beginAttempt(k.up("a"));
  return { k, ex };
}

test("a small answer is read whole and sent as bytes, with the broker's own time in Server-Timing; recorded once", async () => {
  const { k, ex } = accepted();
  const res = await relayAnswer(ex, reply(200, { "content-type": "application/json", "content-length": "11", "x-up": "1" }, ['{"done":', "true}"]));
  expect(res.status).toBe(200);
  expect(res.headers.get("server-timing")).toBe("broker;dur=3.50, queue;dur=0.00");
  expect(res.headers.get("x-queue-position")).toBeNull();
  expect(res.headers.get("x-up")).toBe("1");
  // Declared in the Response itself: the tunnel's agent, in the same process, sends such an answer whole.
  expect(res.headers.get("content-length")).toBe("13");
  expect(await res.text()).toBe('{"done":true}');
  expect(records(k).map((r) => [r.status, r.upstream, r.model])).toEqual([[200, "a", "m"]]);
});

test("an answer that waited in the queue says where it stood and how long, outside the broker's own time", async () => {
  const { ex } = accepted();
  ex.queued = { upstream: ex.upstream!, position: 3, waitedMs: 1.25 };
  const res = await relayAnswer(ex, reply(200, { "content-type": "application/json", "content-length": "2" }, ["{}"]));
  expect(res.headers.get("x-queue-position")).toBe("3");
  expect(res.headers.get("server-timing")).toBe("broker;dur=2.25, queue;dur=1.25");
});

test("a stream is relayed chunk by chunk and accounted when it ends", async () => {
  const { k, ex } = accepted();
  const lines = ['{"response":"a","done":false}\n', '{"response":"b","done":false}\n', '{"done":true,"eval_count":2,"prompt_eval_count":3}\n'];
  const res = await relayAnswer(ex, reply(200, { "content-type": "application/x-ndjson" }, lines));
  expect(records(k)).toEqual([]);
  expect(await res.text()).toBe(lines.join(""));
  const [rec] = records(k) as unknown as { status: number; completionTokens: number; promptTokens: number }[];
  expect(rec).toMatchObject({ status: 200, completionTokens: 2, promptTokens: 3 });
});

test("a small answer broken off is a 502 in the request's dialect naming the upstream, recorded against it", async () => {
  const { k, ex } = accepted("/v1/embeddings");
  const res = await relayAnswer(ex, reply(200, { "content-type": "application/json", "content-length": "50" }, ["{"], { breakAfter: 0 }));
  expect(res.status).toBe(502);
  const j = (await res.json()) as { error: { code: string; message: string } };
  expect(j.error.code).toBe("upstream_error");
  expect(j.error.message).toContain('upstream "a" broke off the response');
  expect(records(k).map((r) => [r.status, r.upstream])).toEqual([[502, "a"]]);
  expect(k.up("a").metrics.snapshot().errors).toBe(1);
});

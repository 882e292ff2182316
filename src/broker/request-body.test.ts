// Unit tests for reading a request body before routing: every framing ends up replayable within the limit, larger ones stream whole.
import { describe, expect, test } from "bun:test";
import { readRoutingBody } from "./request-body.ts";

const enc = new TextEncoder();
/** A request whose body arrives as a stream of `parts`, with no Content-Length (chunked, or a tunnel stream). */
function streamed(parts: string[], path = "/api/chat"): Request {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < parts.length) c.enqueue(enc.encode(parts[i++]!));
      else c.close();
    },
  });
  // @ts-expect-error duplex is needed for a streamed body
  return new Request(`http://x${path}`, { method: "POST", body, duplex: "half" });
}

async function text(b: Uint8Array | ReadableStream<Uint8Array> | null): Promise<string> {
  return b === null ? "" : new Response(b as BodyInit).text();
}

describe("readRoutingBody", () => {
  test("a body without Content-Length is held whole within the limit: replayable, the model readable", async () => {
    const r = (await readRoutingBody(streamed(['{"model":', '"b:1b","messages":[]}']), "/api/chat", 1024))!;
    expect(r.retryable).toBe(true);
    expect(r.body).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(r.head!)).toBe('{"model":"b:1b","messages":[]}');
    expect(r.bytesIn).toBe(30);
    expect(r.bodyLength).toBe(30);
  });

  test("a sized body within the limit is held whole", async () => {
    const r = (await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body: '{"model":"a"}' }), "/api/chat", 1024))!;
    expect(r.retryable).toBe(true);
    expect(await text(r.body)).toBe('{"model":"a"}');
  });

  test("a body that turns out longer than the limit streams: its prefix first, then the rest, once", async () => {
    const parts = ['{"model":"b:1b","x":"', "a".repeat(600), "b".repeat(600), '"}'];
    const r = (await readRoutingBody(streamed(parts), "/api/chat", 1000))!;
    expect(r.retryable).toBe(false);
    expect(r.bodyLength).toBe(-1);
    expect(new TextDecoder().decode(r.head!)).toStartWith('{"model":"b:1b"');
    expect(await text(r.body)).toBe(parts.join(""));
  });

  test("blob uploads and a declared length over the limit stream untouched", async () => {
    const blob = (await readRoutingBody(streamed(["abc"], "/api/blobs/sha256:00"), "/api/blobs/sha256:00", 1))!;
    expect(blob.retryable).toBe(false);
    expect(blob.head).toBeNull();
    expect(blob.body).toBeInstanceOf(ReadableStream);
    const big = (await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body: "x".repeat(50), headers: { "content-length": "50" } }), "/api/chat", 10))!;
    expect(big.retryable).toBe(false);
    expect(big.bodyLength).toBe(50);
    expect(await text(big.body)).toBe("x".repeat(50));
  });

  test("GET has no body; a client that goes away mid-body gives null", async () => {
    expect((await readRoutingBody(new Request("http://x/api/tags"), "/api/tags"))!.body).toBeNull();
    const broken = new ReadableStream<Uint8Array>({
      pull(c) {
        c.error(new Error("gone"));
      },
    });
    // @ts-expect-error duplex
    expect(await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body: broken, duplex: "half" }), "/api/chat")).toBeNull();
  });
});

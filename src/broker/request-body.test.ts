// Unit tests for reading a request body before routing: every framing ends up replayable within the limit and the replay budget, larger ones stream whole.
import { describe, expect, test } from "bun:test";
import { HEAD_BYTES, readRoutingBody } from "./request-body.ts";
import { ReplayBudget } from "./replay-budget.ts";

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

  test("blob uploads stream untouched", async () => {
    const blob = (await readRoutingBody(streamed(["abc"], "/api/blobs/sha256:00"), "/api/blobs/sha256:00", 1))!;
    expect(blob.retryable).toBe(false);
    expect(blob.head).toBeNull();
    expect(blob.body).toBeInstanceOf(ReadableStream);
  });

  test("a declared length over the limit is read like a body without one: its prefix holds the model, then the rest streams, sized, once", async () => {
    // Before, it streamed unread: routing saw no model and sent a 40 MB vision request to an upstream without it (404).
    const body = `{"model":"b:1b","x":"${"a".repeat(2 * HEAD_BYTES)}"}`;
    const big = (await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body, headers: { "content-length": String(body.length) } }), "/api/chat", HEAD_BYTES + 1000))!;
    expect(big.retryable).toBe(false);
    expect(big.cut).toBe("limit");
    expect(big.bodyLength).toBe(body.length);
    expect(new TextDecoder().decode(big.head!)).toStartWith('{"model":"b:1b"');
    expect(await text(big.body)).toBe(body);
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

  describe("the replay budget", () => {
    const KB = 1024;
    const part = "x".repeat(16 * KB);
    /** A JSON body of about `kb` KiB arriving in 16 KiB parts, the model first. */
    const parts = (kb: number) => ['{"model":"m:1b","x":"', ...Array.from({ length: Math.ceil(kb / 16) }, () => part), '"}'];

    test("a body within its first HEAD_BYTES stays replayable with an empty budget, and holds none of it", async () => {
      const budget = new ReplayBudget(() => 0);
      const r = (await readRoutingBody(streamed(parts(HEAD_BYTES / KB - 16)), "/api/chat", 1 << 30, budget))!;
      expect(r.retryable).toBe(true);
      expect(budget.held).toBe(0);
    });

    test("beyond the budget a chunked body streams in one attempt: the prefix held is charged, the rest is not read ahead", async () => {
      const budget = new ReplayBudget(() => 128 * KB);
      const p = parts(1024);
      const r = (await readRoutingBody(streamed(p), "/api/chat", 1 << 30, budget))!;
      expect(r.retryable).toBe(false);
      expect(r.bodyLength).toBe(-1);
      expect(new TextDecoder().decode(r.head!)).toStartWith('{"model":"m:1b"');
      // The head: the free HEAD_BYTES, what the budget covered, and the one part that did not fit.
      expect(r.head!.byteLength).toBeLessThanOrEqual(HEAD_BYTES + 128 * KB + part.length + 32);
      expect(budget.held).toBeLessThanOrEqual(128 * KB);
      expect(budget.held).toBeGreaterThan(0);
      expect(await text(r.body)).toBe(p.join(""));
      r.release();
      expect(budget.held).toBe(0);
    });

    test("a body within the budget is replayable and charged beyond its free head until released", async () => {
      const budget = new ReplayBudget(() => 1 << 20);
      const p = parts(256);
      const r = (await readRoutingBody(streamed(p), "/api/chat", 1 << 30, budget))!;
      expect(r.retryable).toBe(true);
      expect(budget.held).toBe(p.join("").length - HEAD_BYTES);
      r.release();
      r.release();
      expect(budget.held).toBe(0);
    });

    test("a sized body is charged up front; one the budget cannot cover streams with its Content-Length kept", async () => {
      const budget = new ReplayBudget(() => 256 * KB);
      const big = "y".repeat(512 * KB);
      const fits = (await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body: big.slice(0, 200 * KB), headers: { "content-length": String(200 * KB) } }), "/api/chat", 1 << 30, budget))!;
      expect(fits.retryable).toBe(true);
      expect(budget.held).toBe(200 * KB - HEAD_BYTES);
      const over = (await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body: big, headers: { "content-length": String(512 * KB) } }), "/api/chat", 1 << 30, budget))!;
      expect(over.retryable).toBe(false);
      expect(over.bodyLength).toBe(512 * KB);
      expect(await text(over.body)).toBe(big);
      fits.release();
      over.release();
      expect(budget.held).toBe(0);
    });

    test("a client that goes away mid-body gives its bytes back", async () => {
      const budget = new ReplayBudget(() => 1 << 20);
      let n = 0;
      const broken = new ReadableStream<Uint8Array>({
        pull(c) {
          if (n++ < 10) c.enqueue(enc.encode(part));
          else c.error(new Error("gone"));
        },
      });
      // @ts-expect-error duplex
      expect(await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body: broken, duplex: "half" }), "/api/chat", 1 << 30, budget)).toBeNull();
      expect(budget.held).toBe(0);
    });
  });
});

test("a body whose release() is forgotten gives its bytes back once it is collected (the safety net)", async () => {
  const budget = new ReplayBudget(() => 1 << 20);
  await (async () => {
    const part = new TextEncoder().encode("x".repeat(16 * 1024));
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ < 16) c.enqueue(part);
        else c.close();
      },
    });
    // @ts-expect-error duplex
    const r = await readRoutingBody(new Request("http://x/api/chat", { method: "POST", body, duplex: "half" }), "/api/chat", 1 << 30, budget);
    expect(r!.retryable).toBe(true);
  })();
  expect(budget.held).toBeGreaterThan(0);
  for (let i = 0; i < 50 && budget.held > 0; i++) {
    Bun.gc(true);
    await Bun.sleep(10);
  }
  expect(budget.held).toBe(0);
});

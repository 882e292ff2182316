// Unit tests for the HTTP/1.1 response parser, fed with bytes split at every position.
import { expect, test } from "bun:test";
import { HttpParseError, ResponseParser, headerValue, type ResponseHead } from "./http1-parser.ts";

function run(parts: (string | Uint8Array)[], opts: { noBody?: boolean; eof?: boolean } = {}) {
  const out = { head: null as ResponseHead | null, body: [] as string[], ended: 0 };
  const p = new ResponseParser(
    {
      onHead: (h) => (out.head = h),
      onBody: (b) => out.body.push(Buffer.from(b).toString("latin1")),
      onEnd: () => out.ended++,
    },
    opts.noBody,
  );
  for (const x of parts) p.push(typeof x === "string" ? Buffer.from(x, "latin1") : x);
  if (opts.eof) p.eof();
  return { ...out, parser: p, text: out.body.join("") };
}

/** Every way of splitting `s` into two pushes must give the same result as one push. */
function allSplits(s: string, opts: { noBody?: boolean; eof?: boolean } = {}) {
  const whole = run([s], opts);
  for (let i = 1; i < s.length; i++) {
    const r = run([s.slice(0, i), s.slice(i)], opts);
    expect({ head: r.head, text: r.text, ended: r.ended }).toEqual({ head: whole.head, text: whole.text, ended: whole.ended });
  }
  return whole;
}

test("status line, headers and a Content-Length body, split anywhere", () => {
  const r = allSplits("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nX-A:  b \r\n\r\n{\"ok\":true}");
  expect(r.head).toEqual({ status: 200, statusText: "OK", headers: ["content-type", "application/json", "content-length", "11", "x-a", "b"], contentLength: 11, keepAlive: true, hasBody: true });
  expect(r.text).toBe('{"ok":true}');
  expect(r.ended).toBe(1);
  expect(r.parser.done).toBe(true);
  expect(headerValue(r.head!.headers, "x-a")).toBe("b");
  expect(headerValue(r.head!.headers, "nope")).toBeNull();
});

test("chunked body with extensions and trailers, split anywhere", () => {
  const r = allSplits("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
  expect(r.head!.contentLength).toBe(-1);
  expect(r.text).toBe("hello 0123456789");
  expect(r.ended).toBe(1);
});

test("each chunk reaches the sink as soon as its bytes arrive (streaming)", () => {
  const got: string[] = [];
  const p = new ResponseParser({ onHead() {}, onBody: (b) => got.push(Buffer.from(b).toString()), onEnd() {} });
  p.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
  p.push(Buffer.from("6\r\n{\"a\":1"));
  expect(got).toEqual(['{"a":1']);
  p.push(Buffer.from("\r\n"));
  p.push(Buffer.from("2\r\n}\n\r\n"));
  expect(got).toEqual(['{"a":1', "}\n"]);
  expect(p.done).toBe(false);
});

test("close-delimited body ends at eof and is not reusable", () => {
  const r = run(["HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc", "def"], { eof: true });
  expect(r.head!.keepAlive).toBe(false);
  expect(r.text).toBe("abcdef");
  expect(r.ended).toBe(1);
});

test("eof in the middle of a framed body or before a head is an error", () => {
  expect(() => run(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], { eof: true })).toThrow(HttpParseError);
  expect(() => run(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"], { eof: true })).toThrow("middle of the response body");
  expect(() => run(["HTTP/1.1 200"], { eof: true })).toThrow("before a response");
});

test("no body for HEAD, 204 and 304; Content-Length 0 ends at once", () => {
  expect(run(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"], { noBody: true })).toMatchObject({ ended: 1, text: "", head: { hasBody: false, keepAlive: true } });
  expect(run(["HTTP/1.1 204 No Content\r\n\r\n"])).toMatchObject({ ended: 1, head: { status: 204, hasBody: false } });
  expect(run(["HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"])).toMatchObject({ ended: 1, head: { hasBody: false } });
  expect(run(["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])).toMatchObject({ ended: 1, text: "", head: { contentLength: 0, hasBody: true } });
});

test("1xx interim responses are skipped", () => {
  const r = allSplits("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  expect(r.head!.status).toBe(201);
  expect(r.text).toBe("ok");
});

test("Connection: close, HTTP/1.0 and keep-alive", () => {
  expect(run(["HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]).head!.keepAlive).toBe(false);
  expect(run(["HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"]).head!.keepAlive).toBe(false);
  expect(run(["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"]).head!.keepAlive).toBe(true);
  expect(run(["HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"]).head!.statusText).toBe("");
});

test("Transfer-Encoding wins over Content-Length, and the connection of an answer that sent both is not reused", () => {
  const r = run(["HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"]);
  // The head says so too: no length (-1), so nothing downstream frames the body by the 100 the upstream also sent.
  expect(r.head?.contentLength).toBe(-1);
  expect(r.text).toBe("hi");
  expect(r.ended).toBe(1);
  // Ambiguous framing: the answer is read, the connection is not reused (RFC 9112 §6.3: it ought to be an error).
  expect(r.head?.keepAlive).toBe(false);
  expect(run(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"]).head?.keepAlive).toBe(true);
});

test("malformed responses are refused with a clear error", () => {
  expect(() => run(["HTTP/2 200 OK\r\n\r\n"])).toThrow("malformed status line");
  expect(() => run(["HTTP/1.1 200 OK\r\nno colon\r\n\r\n"])).toThrow("malformed header line");
  expect(() => run(["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"])).toThrow("invalid Content-Length");
  expect(() => run(["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"])).toThrow("invalid Content-Length");
  expect(() => run(["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"])).toThrow("unsupported Transfer-Encoding");
  expect(() => run(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])).toThrow("malformed chunk size");
  expect(() => run(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n"])).toThrow("chunk data longer");
  expect(() => run(["HTTP/1.1 200 OK\r\n" + "x-big: " + "a".repeat(70_000)])).toThrow("larger than");
  expect(() => run(["HTTP/1.1 101 Switching Protocols\r\n\r\n"])).toThrow("switched protocols");
});

test("a head over the limit is refused when it comes whole in one part too (not passed on for the client's server to choke on)", () => {
  expect(() => run(["HTTP/1.1 200 OK\r\n" + "x-big: " + "a".repeat(70_000) + "\r\ncontent-length: 0\r\n\r\n"])).toThrow("larger than 65536 bytes");
  expect(run(["HTTP/1.1 200 OK\r\n" + "x-big: " + "a".repeat(60_000) + "\r\ncontent-length: 0\r\n\r\n"]).head?.status).toBe(200);
});

test("a header the client's Headers would refuse (NUL, a bare LF or CR, a name that is not a token) is a malformed answer", () => {
  for (const line of ["x-a: \u0000b", "x-a: b\nc", "x-a: b\rc", "x a: b", "x(a): b"]) {
    expect(() => run([`HTTP/1.1 200 OK\r\n${line}\r\ncontent-length: 0\r\n\r\n`])).toThrow(HttpParseError);
  }
  // The message stays one line, whatever the bytes.
  expect(() => run(["HTTP/1.1 200 OK\r\nx-a: b\nc\r\n\r\n"])).toThrow('malformed header line "x-a: b\\nc"');
  // What is allowed stays allowed: a tab, other bytes a server may send (latin1), odd but valid names.
  expect(run(["HTTP/1.1 200 OK\r\nx-a: b\tc\r\nx-b: caf\u00e9\r\nX_Odd.Name~1: v\r\ncontent-length: 0\r\n\r\n"]).head?.status).toBe(200);
});

test("bytes after a complete message are counted, not parsed", () => {
  const r = run(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK"]);
  expect(r.text).toBe("ok");
  expect(r.parser.extra).toBe(4);
});

test("body parts are views into the pushed bytes (no copy)", () => {
  const data = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  let part: Uint8Array | null = null;
  new ResponseParser({ onHead() {}, onBody: (b) => (part = b), onEnd() {} }).push(data);
  expect(part!.buffer).toBe(data.buffer);
});

test("bytes after the message in the same push are counted in `extra` before onEnd, whatever ended it", () => {
  const tail = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi";
  const cases: [string, boolean][] = [
    ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", false],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-t: 1\r\n\r\n", false],
    ["HTTP/1.1 204 No Content\r\n\r\n", false],
    ["HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true],
  ];
  for (const [msg, noBody] of cases) {
    let extraAtEnd = -1;
    const p: ResponseParser = new ResponseParser({ onHead: () => {}, onBody: () => {}, onEnd: () => (extraAtEnd = p.extra) }, noBody);
    p.push(Buffer.from(msg + tail, "latin1"));
    expect({ msg, extraAtEnd }).toEqual({ msg, extraAtEnd: tail.length });
  }
});

test("a head that trickles in a byte at a time is copied in linear, not quadratic, work (a 64 KiB head, then 1xx heads without end)", () => {
  const head = Buffer.from("HTTP/1.1 103 Early Hints\r\nlink: " + "a".repeat(60_000) + "\r\n\r\n", "latin1");
  // What the parser allocates to hold the parts: every byte of it is a byte copied.
  let allocated = 0;
  const { allocUnsafe, concat } = Buffer;
  Buffer.allocUnsafe = ((n: number) => ((allocated += n), allocUnsafe(n))) as typeof Buffer.allocUnsafe;
  Buffer.concat = ((list: readonly Uint8Array[], n?: number) => {
    const b = concat(list, n);
    allocated += b.byteLength;
    return b;
  }) as typeof Buffer.concat;
  try {
    const p = new ResponseParser({ onHead: () => {}, onBody: () => {}, onEnd: () => {} });
    for (let round = 0; round < 2; round++) for (let i = 0; i < head.length; i++) p.push(head.subarray(i, i + 1));
    expect(p.headDone).toBe(false);
    // Linear: a few times the bytes; held by concatenation it was the sum of every prefix (gigabytes).
    expect(allocated).toBeLessThan(8 * 2 * head.length);
  } finally {
    Buffer.allocUnsafe = allocUnsafe;
    Buffer.concat = concat;
  }
});

// The codec against byte fixtures (frames, BATCH, and the resume frames as docs/protocol.md shows them), and 100k random and mutated messages that must only ever yield ProtocolError.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decode, decodeMessage, encode, encodeBatch, ProtocolError, tryDecode } from "./codec.ts";
import { HEADER_SIZE, MAX_PAYLOAD, type Frame } from "./messages.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));
const json = (s: string) => Buffer.from(s).toString("hex");

const TOKEN = "q2Vv8k3xR0a9bL1cD4eF5g";

describe("byte fixtures", () => {
  const fixtures: [string, Frame, string][] = [
    ["DATA", { type: "DATA", stream: 1, data: new Uint8Array([0x68, 0x69]) }, "12 00 00000001 6869"],
    ["END", { type: "END", stream: 0x01020304 }, "13 00 01020304"],
    ["WINDOW_UPDATE", { type: "WINDOW_UPDATE", stream: 3, increment: 65536 }, "15 00 00000003 00010000"],
    ["PING", { type: "PING", stream: 0, opaque: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }, "20 00 00000000 0102030405060708"],
    ["PONG", { type: "PONG", stream: 0, opaque: new Uint8Array(8) }, "21 00 00000000 0000000000000000"],
    [
      "REQUEST_HEAD",
      { type: "REQUEST_HEAD", stream: 5, body: { method: "POST", path: "/api/chat", headers: [["content-type", "application/json"]] } },
      "10 00 00000005" + json('{"method":"POST","path":"/api/chat","headers":[["content-type","application/json"]]}'),
    ],
    ["RESPONSE_HEAD", { type: "RESPONSE_HEAD", stream: 5, body: { status: 200, headers: [] } }, "11 00 00000005" + json('{"status":200,"headers":[]}')],
    ["RESET", { type: "RESET", stream: 7, body: { code: "cancel", reason: "client went away" } }, "14 00 00000007" + json('{"code":"cancel","reason":"client went away"}')],
    ["HELLO", { type: "HELLO", stream: 0, body: { version: 2, capabilities: ["streaming"], agent: "t/3" } }, "01 00 00000000" + json('{"version":2,"capabilities":["streaming"],"agent":"t/3"}')],
    [
      "HELLO with maxStreams",
      { type: "HELLO", stream: 0, body: { version: 2, capabilities: [], agent: "t/3", maxStreams: 8 } },
      "01 00 00000000" + json('{"version":2,"capabilities":[],"agent":"t/3","maxStreams":8}'),
    ],
    ["WELCOME", { type: "WELCOME", stream: 0, body: { version: 2, capabilities: [], tunnelId: "alice" } }, "02 00 00000000" + json('{"version":2,"capabilities":[],"tunnelId":"alice"}')],
    ["GO_AWAY", { type: "GO_AWAY", stream: 0, body: { code: "normal", reason: "bye" } }, "22 00 00000000" + json('{"code":"normal","reason":"bye"}')],
    ["RESUME", { type: "RESUME", stream: 0, body: { token: TOKEN } }, "16 00 00000000" + json(`{"token":"${TOKEN}"}`)],
    ["RESUME with the bytes the agent had sent", { type: "RESUME", stream: 0, body: { token: TOKEN, sent: 5678 } }, "16 00 00000000" + json(`{"token":"${TOKEN}","sent":5678}`)],
    ["RESUMED", { type: "RESUMED", stream: 9, body: { token: TOKEN, offset: 1234 } }, "17 00 00000009" + json(`{"token":"${TOKEN}","offset":1234}`)],
    [
      "RESPONSE_HEAD with a resume token",
      { type: "RESPONSE_HEAD", stream: 5, body: { status: 200, headers: [], resume: TOKEN } },
      "11 00 00000005" + json(`{"status":200,"headers":[],"resume":"${TOKEN}"}`),
    ],
  ];
  for (const [name, frame, wire] of fixtures) {
    test(`${name} encodes to and decodes from its bytes`, () => {
      expect(hex(encode(frame))).toBe(wire.replace(/\s+/g, ""));
      const back = decode(bytes(wire));
      expect(JSON.parse(JSON.stringify(back, (_k, v) => (v instanceof Uint8Array ? hex(v) : v)))).toEqual(
        JSON.parse(JSON.stringify(frame, (_k, v) => (v instanceof Uint8Array ? hex(v) : v))),
      );
    });
  }
});

describe("resume frames", () => {
  test("the Resume fixtures in docs/protocol.md decode to what their captions say", () => {
    const md = readFileSync(join(import.meta.dir, "../../docs/protocol.md"), "utf8");
    const section = md.slice(md.indexOf("## Resume"), md.indexOf("## Heartbeats"));
    const lines = /```\n([\s\S]*?)```/.exec(section)![1]!.trimEnd().split("\n");
    const found: string[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const [, name, wire] = /^(\w+):\s+(.*)$/.exec(lines[i]!)!;
      const [, stream, body] = /^\s+stream (\d+) (\{.*\})$/.exec(lines[i + 1]!)!;
      const f = decode(bytes(wire!)) as Frame & { body: unknown };
      expect(f.type).toBe(name as Frame["type"]);
      expect(f.stream).toBe(Number(stream));
      expect(f.body).toEqual(JSON.parse(body!));
      // And back to the same bytes.
      expect(hex(encode(f))).toBe(wire!.replace(/\s+/g, ""));
      found.push(name!);
    }
    expect(found).toEqual(["RESPONSE_HEAD", "RESUME", "RESUMED", "RESUME_REFUSED", "HELLO", "WELCOME"]);
  });
  test("the fence PING in docs/protocol.md (Resume) carries 2^52 + 1", () => {
    const md = readFileSync(join(import.meta.dir, "../../docs/protocol.md"), "utf8");
    const section = md.slice(md.indexOf("## Resume"), md.indexOf("## Heartbeats"));
    const wire = /PING:\s+([0-9a-f ]+)\n/.exec(section)![1]!;
    const f = decode(bytes(wire)) as Extract<Frame, { type: "PING" }>;
    expect(f.type).toBe("PING");
    expect(new DataView(f.opaque.buffer, f.opaque.byteOffset, 8).getFloat64(0)).toBe(2 ** 52 + 1);
  });
  test("the REQUEST_HEAD window fixture in docs/protocol.md (Scheduling) decodes to what its caption says", () => {
    const md = readFileSync(join(import.meta.dir, "../../docs/protocol.md"), "utf8");
    const section = md.slice(md.indexOf("## Scheduling"), md.indexOf("## Going away"));
    const block = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith("REQUEST_HEAD:"))!;
    const [first, second] = block.split("\n");
    const wire = /^REQUEST_HEAD:\s+(.*)$/.exec(first!)![1]!;
    const [, stream, body] = /^\s+stream (\d+) (\{.*\})$/.exec(second!)!;
    const f = decode(bytes(wire));
    expect(f).toEqual({ type: "REQUEST_HEAD", stream: Number(stream), body: JSON.parse(body!) });
    expect(hex(encode(f))).toBe(wire.replace(/\s+/g, ""));
  });
  test("the HELLO maxStreams fixture in docs/protocol.md (Streams) decodes to what its caption says", () => {
    const md = readFileSync(join(import.meta.dir, "../../docs/protocol.md"), "utf8");
    const section = md.slice(md.indexOf("## Streams"), md.indexOf("## Flow control"));
    const block = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith("HELLO:"))!;
    const [first, second] = block.split("\n");
    const wire = /^HELLO:\s+(.*)$/.exec(first!)![1]!;
    const [, stream, body] = /^\s+stream (\d+) (\{.*\})$/.exec(second!)!;
    const f = decode(bytes(wire));
    expect(f).toEqual({ type: "HELLO", stream: 0, body: JSON.parse(body!) });
    expect(Number(stream)).toBe(0);
    expect(f.type === "HELLO" && f.body.maxStreams).toBe(8);
    expect(hex(encode(f))).toBe(wire.replace(/\s+/g, ""));
  });
  const bad: [string, string, string][] = [
    ["a REQUEST_HEAD window above the initial window", "10 00 00000001" + json('{"method":"GET","path":"/","headers":[],"window":524289}'), "bad_payload"],
    ["a RESUMED window above the initial window", "17 00 00000003" + json(`{"token":"${TOKEN}","offset":0,"window":524289}`), "bad_payload"],
    ["a REQUEST_HEAD window of 0", "10 00 00000001" + json('{"method":"GET","path":"/","headers":[],"window":0}'), "bad_payload"],
    ["a RESUME token too short", "16 00 00000000" + json('{"token":"abc"}'), "bad_payload"],
    ["a RESUME token with other characters", "16 00 00000000" + json(`{"token":"${TOKEN.slice(0, 21)}/"}`), "bad_payload"],
    ["a RESUME whose sent is no byte count", "16 00 00000000" + json(`{"token":"${TOKEN}","sent":-1}`), "bad_payload"],
    ["a RESUME on a stream", "16 00 00000001" + json(`{"token":"${TOKEN}"}`), "bad_stream_id"],
    ["a RESUMED on stream 0", "17 00 00000000" + json(`{"token":"${TOKEN}","offset":0}`), "bad_stream_id"],
    ["a RESUMED with a negative offset", "17 00 00000003" + json(`{"token":"${TOKEN}","offset":-1}`), "bad_payload"],
    ["a RESUMED with a fractional offset", "17 00 00000003" + json(`{"token":"${TOKEN}","offset":1.5}`), "bad_payload"],
    ["a RESUME_REFUSED without a reason", "18 00 00000000" + json(`{"token":"${TOKEN}"}`), "bad_payload"],
    ["a HELLO whose resumeWindow is not milliseconds", "01 00 00000000" + json('{"version":2,"capabilities":[],"agent":"a","resumeWindow":-5}'), "bad_payload"],
    ["a HELLO whose maxStreams is 0", "01 00 00000000" + json('{"version":2,"capabilities":[],"agent":"a","maxStreams":0}'), "bad_payload"],
    ["a HELLO whose maxStreams is not a count", "01 00 00000000" + json('{"version":2,"capabilities":[],"agent":"a","maxStreams":"8"}'), "bad_payload"],
    ["a WELCOME whose resumeWindow is a string", "02 00 00000000" + json('{"version":2,"capabilities":[],"tunnelId":"a","resumeWindow":"60s"}'), "bad_payload"],
    ["a RESPONSE_HEAD whose resume is not a token", "11 00 00000005" + json('{"status":200,"headers":[],"resume":42}'), "bad_payload"],
  ];
  for (const [name, wire, code] of bad) {
    test(`${name} is ${code}`, () => {
      const r = tryDecode(bytes(wire));
      expect(r.ok ? "decoded" : r.error.code).toBe(code);
    });
  }
});

describe("BATCH byte fixtures", () => {
  // END 1, WINDOW_UPDATE 3 +65536, DATA 1 "hi": each [u32 length][frame], behind a BATCH header on stream 0.
  const wire = "30 00 00000000" + "00000006 13 00 00000001" + "0000000a 15 00 00000003 00010000" + "00000008 12 00 00000001 6869";
  const frames: Frame[] = [
    { type: "END", stream: 1 },
    { type: "WINDOW_UPDATE", stream: 3, increment: 65536 },
    { type: "DATA", stream: 1, data: new Uint8Array([0x68, 0x69]) },
  ];
  test("encodes to and decodes from its bytes", () => {
    expect(hex(encodeBatch(frames.map(encode)))).toBe(wire.replace(/\s+/g, ""));
    const back = decodeMessage(bytes(wire));
    expect(back.type).toBe("BATCH");
    expect(JSON.stringify(back, (_k, v) => (v instanceof Uint8Array ? hex(v) : v))).toBe(JSON.stringify({ type: "BATCH", stream: 0, frames }, (_k, v) => (v instanceof Uint8Array ? hex(v) : v)));
  });
  test("a single frame decodes through decodeMessage() unchanged", () => {
    expect(decodeMessage(bytes("13 00 00000001"))).toEqual({ type: "END", stream: 1 });
  });
  const bad: [string, string, string][] = [
    ["no frames", "30 00 00000000", "bad_payload"],
    ["flags set", "30 01 00000000 00000006 1300 00000001", "bad_flags"],
    ["on a stream", "30 00 00000001 00000006 1300 00000001", "bad_stream_id"],
    ["ends inside a length", "30 00 00000000 00000006 1300 00000001 0000", "bad_payload"],
    ["a length past the end", "30 00 00000000 00000009 1300 00000001", "bad_payload"],
    ["a bad frame inside", "30 00 00000000 00000006 1301 00000001", "bad_flags"],
    ["a BATCH inside", "30 00 00000000 0000000c 30 00 00000000 00000000 0000", "unexpected_frame"],
  ];
  for (const [name, w, code] of bad) {
    test(`refused: ${name} (${code})`, () => {
      let err: unknown;
      try {
        decodeMessage(bytes(w));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe(code as never);
    });
  }
  test("HELLO inside a BATCH is refused", () => {
    const hello = encode({ type: "HELLO", stream: 0, body: { version: 2, capabilities: [], agent: "x" } });
    expect(() => decodeMessage(encodeBatch([hello]))).toThrow("HELLO inside a BATCH");
  });
  test("decode() alone never opens a BATCH (a handshake cannot start with one)", () => {
    expect(tryDecode(encodeBatch([encode({ type: "END", stream: 1 })]))).toMatchObject({ ok: false, error: { code: "unexpected_frame" } });
  });
});

describe("malformed input gives a ProtocolError with a code", () => {
  const cases: [string, string, string][] = [
    ["empty", "", "short_frame"],
    ["short header", "120000", "short_frame"],
    ["unknown type", "7f 00 00000001", "unknown_type"],
    ["flags set", "12 01 00000001", "bad_flags"],
    ["DATA on stream 0", "12 00 00000000 00", "bad_stream_id"],
    ["PING on a stream", "20 00 00000001 0000000000000000", "bad_stream_id"],
    ["PING of 4 bytes", "20 00 00000000 00000000", "bad_payload"],
    ["END with payload", "13 00 00000001 00", "bad_payload"],
    ["zero window increment", "15 00 00000001 00000000", "bad_payload"],
    ["window increment past 2^31-1", "15 00 00000001 80000000", "bad_payload"],
    ["head not JSON", "10 00 00000001 7b7b", "bad_payload"],
    ["head invalid UTF-8", "10 00 00000001 ff", "bad_payload"],
    ["head is an array", "10 00 00000001" + json("[1]"), "bad_payload"],
    ["path without slash", "10 00 00000001" + json('{"method":"GET","path":"x","headers":[]}'), "bad_payload"],
    ["header with newline", "10 00 00000001" + json('{"method":"GET","path":"/","headers":[["a","b\\r\\nc: d"]]}'), "bad_payload"],
    ["status out of range", "11 00 00000001" + json('{"status":99,"headers":[]}'), "bad_payload"],
    ["unknown reset code", "14 00 00000001" + json('{"code":"nope","reason":""}'), "bad_payload"],
    ["hello without version", "01 00 00000000" + json('{"capabilities":[],"agent":"x"}'), "bad_payload"],
  ];
  for (const [name, wire, code] of cases) {
    test(name, () => {
      const r = tryDecode(bytes(wire));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toBeInstanceOf(ProtocolError);
        expect(r.error.code).toBe(code as never);
      }
    });
  }
  test("a frame over the size limit", () => {
    const big = new Uint8Array(6 + MAX_PAYLOAD + 1);
    big[0] = 0x12;
    big[5] = 1;
    expect(() => decode(big)).toThrow(ProtocolError);
    expect(() => encode({ type: "DATA", stream: 1, data: new Uint8Array(MAX_PAYLOAD + 1) })).toThrow(ProtocolError);
  });
  test("a BATCH over the size limit is refused whole, though each frame in it is within the limit", () => {
    const half = encode({ type: "DATA", stream: 1, data: new Uint8Array(MAX_PAYLOAD / 2) });
    const size = 2 * (4 + half.length);
    expect(size).toBeGreaterThan(MAX_PAYLOAD);
    const msg = new Uint8Array(HEADER_SIZE + size);
    msg[0] = encodeBatch([half])[0]!; // the BATCH type; flags and stream 0
    const view = new DataView(msg.buffer);
    for (let i = 0, at = HEADER_SIZE; i < 2; i++, at += 4 + half.length) {
      view.setUint32(at, half.length);
      msg.set(half, at + 4);
    }
    let err: unknown = null;
    try {
      decodeMessage(msg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe("frame_too_large");
  });
  test("encode refuses a head that decode would refuse, so the peer never sees it", () => {
    const heads: Frame[] = [
      { type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/" + "a".repeat(9000), headers: [] } },
      { type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/", headers: [["x-big", "b".repeat(9000)]] } },
      { type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/", headers: Array.from({ length: 20 }, (_, i) => [`x-${i}`, "c".repeat(4000)] as [string, string]) } },
      { type: "RESPONSE_HEAD", stream: 1, body: { status: 200, headers: [["bad name", "v"]] } },
    ];
    for (const f of heads) expect(() => encode(f)).toThrow(ProtocolError);
    expect(decode(encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "GET", path: "/api/tags", headers: [["accept", "*/*"]] } })).type).toBe("REQUEST_HEAD");
  });
});

test("100k random and mutated frames only ever produce frames or ProtocolErrors", () => {
  // A seeded PRNG keeps failures reproducible.
  let seed = 0x2545f491;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const valid = [
    encode({ type: "REQUEST_HEAD", stream: 1, body: { method: "POST", path: "/api/chat", headers: [["content-type", "application/json"]] } }),
    encode({ type: "RESPONSE_HEAD", stream: 1, body: { status: 200, headers: [["x", "y"]] } }),
    encode({ type: "HELLO", stream: 0, body: { version: 2, capabilities: ["a"], agent: "x" } }),
    encode({ type: "RESET", stream: 9, body: { code: "cancel", reason: "r" } }),
    encode({ type: "WINDOW_UPDATE", stream: 9, increment: 5 }),
    encode({ type: "DATA", stream: 9, data: new Uint8Array([1, 2, 3]) }),
    encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }),
    encode({ type: "GO_AWAY", stream: 0, body: { code: "normal", reason: "" } }),
    encodeBatch([encode({ type: "END", stream: 1 }), encode({ type: "DATA", stream: 3, data: new Uint8Array([7]) })]),
  ];
  const counts = { ok: 0, error: 0 };
  for (let i = 0; i < 100_000; i++) {
    let buf: Uint8Array;
    if (i % 2 === 0) {
      buf = new Uint8Array(Math.floor(rnd() * 64));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
      // Bias the first byte towards known types so the deeper branches get exercised.
      if (buf.length && rnd() < 0.7) buf[0] = valid[Math.floor(rnd() * valid.length)]![0]!;
    } else {
      buf = valid[Math.floor(rnd() * valid.length)]!.slice();
      const flips = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < flips; k++) {
        const op = rnd();
        if (op < 0.6 && buf.length) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
        else if (op < 0.8) buf = buf.subarray(0, Math.floor(rnd() * buf.length));
        else {
          const ext = new Uint8Array(buf.length + 1 + Math.floor(rnd() * 8));
          ext.set(buf);
          for (let j = buf.length; j < ext.length; j++) ext[j] = Math.floor(rnd() * 256);
          buf = ext;
        }
      }
    }
    try {
      decodeMessage(buf);
      counts.ok++;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw new Error(`decode threw a ${String(e)} for ${hex(buf)}`);
      counts.error++;
    }
  }
  expect(counts.ok + counts.error).toBe(100_000);
  expect(counts.error).toBeGreaterThan(10_000);
  expect(counts.ok).toBeGreaterThan(1_000);
});

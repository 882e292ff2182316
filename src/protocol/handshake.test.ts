import { expect, test } from "bun:test";
import { decode, encode } from "./codec.ts";
import { acceptHello, agreedResumeWindow, helloFrame, readWelcome, welcomeFrame } from "./handshake.ts";
import { CLOSE_CODES, closeReasonOf, GO_AWAY_CODES, PROTOCOL_VERSION } from "./messages.ts";

test("HELLO then WELCOME: what one side writes the other accepts", () => {
  const h = acceptHello(helloFrame("cloudtolocalllm-tunnel/3.0.0"));
  expect(h).toEqual({ ok: true, hello: { version: PROTOCOL_VERSION, capabilities: expect.any(Array), agent: "cloudtolocalllm-tunnel/3.0.0" } });
  const w = readWelcome(decode(encode(welcomeFrame("alice"))));
  expect(w).toEqual({ ok: true, welcome: { version: PROTOCOL_VERSION, capabilities: expect.any(Array), tunnelId: "alice" } });
});

test("the relay refuses another version with a GO_AWAY and close 4002, and anything but HELLO with 1002", () => {
  const old = acceptHello(helloFrame("old-agent", 1));
  if (old.ok) throw new Error("accepted");
  expect(old.refusal.close.code).toBe(4002);
  expect(old.refusal.close.text.startsWith("incompatible_version: ")).toBe(true);
  const go = decode(old.refusal.goAway!);
  expect(go.type === "GO_AWAY" && go.body.code).toBe("incompatible_version");
  // The agent reads that GO_AWAY as permanent: retrying cannot help until one side is upgraded.
  expect(readWelcome(go)).toMatchObject({ ok: false, reason: "incompatible_version", permanent: true });

  const ping = acceptHello(encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }));
  expect(ping.ok ? null : [ping.refusal.close.code, ping.refusal.detail, ping.refusal.goAway]).toEqual([1002, "unexpected_frame", null]);
  const junk = acceptHello(new Uint8Array([0xff, 0, 0, 0, 0, 0]));
  expect(junk.ok ? null : junk.refusal.reason).toBe("protocol_error");
});

test("the agent refuses a WELCOME of another version, and a frame before WELCOME", () => {
  const w = welcomeFrame("alice");
  expect(readWelcome(w, PROTOCOL_VERSION + 1)).toMatchObject({ ok: false, reason: "incompatible_version", permanent: true });
  expect(readWelcome({ type: "PING", stream: 0, opaque: new Uint8Array(8) })).toMatchObject({ ok: false, reason: "protocol_error", permanent: false });
});

test("the close-code table: every GO_AWAY code has one, codes are unique, and a close is read back by code or name", () => {
  for (const c of GO_AWAY_CODES) expect(CLOSE_CODES[c]).toBeDefined();
  const codes = Object.values(CLOSE_CODES).map((c) => c.code);
  expect(new Set(codes).size).toBe(codes.length);
  expect(Object.entries(CLOSE_CODES).filter(([, v]) => v.permanent).map(([k]) => k).sort()).toEqual(["incompatible_version", "unauthorized"]);
  expect(closeReasonOf(4003)).toBe("unauthorized");
  expect(closeReasonOf(4000, "incompatible_version: upgrade")).toBe("incompatible_version");
  expect(closeReasonOf(1000, "normal: bye")).toBe("normal");
  expect(closeReasonOf(4999)).toBeNull();
});

test("resume windows: each side names its own, both use the shorter; a peer that names none (3.2) leaves ours", () => {
  const h = acceptHello(helloFrame("a", PROTOCOL_VERSION, ["resume"], 1_500));
  expect(h.ok && h.hello.resumeWindow).toBe(1_500);
  const w = readWelcome(decode(encode(welcomeFrame("alice", ["resume"], 20_000))));
  expect(w.ok && w.welcome.resumeWindow).toBe(20_000);
  expect(agreedResumeWindow(20_000, 1_500)).toBe(1_500);
  expect(agreedResumeWindow(1_500, 20_000)).toBe(1_500);
  expect(agreedResumeWindow(20_000, undefined)).toBe(20_000);
  // A frame of 3.2 has no field: none is read.
  const old = acceptHello(helloFrame("a"));
  expect(old.ok && "resumeWindow" in old.hello).toBe(false);
});

test("the agent names its max_streams in HELLO and the relay reads it; a HELLO of 3.3 names none", () => {
  const h = acceptHello(helloFrame("a", PROTOCOL_VERSION, [], undefined, 8));
  expect(h.ok && h.hello.maxStreams).toBe(8);
  const old = acceptHello(helloFrame("a"));
  expect(old.ok && "maxStreams" in old.hello).toBe(false);
});

// WholeBody: a whole answer held, rewritten, and capped.
import { expect, test } from "bun:test";
import { WholeBody } from "./whole-body.ts";

test("holds every chunk and sends the rewritten whole at the end, with its usage", () => {
  const enc = new TextEncoder();
  const w = new WholeBody((t) => ({ text: t.toUpperCase(), usage: { tokens: t.length, promptTokens: null, genMs: null } }));
  expect(w.push(enc.encode("ab")).byteLength).toBe(0);
  expect(w.push(enc.encode("cé")).byteLength).toBe(0);
  expect(new TextDecoder().decode(w.end())).toBe("ABCÉ");
  expect(w.usage).toEqual({ tokens: 4, promptTokens: null, genMs: null });
});

test("an answer over the limit is an upstream_error (502), and nothing more is held", () => {
  const w = new WholeBody((t) => ({ text: t, usage: null }), 4);
  w.push(new Uint8Array(3));
  expect(() => w.push(new Uint8Array(2))).toThrow(/over 4 bytes/);
  try {
    w.push(new Uint8Array(2));
  } catch (e) {
    expect((e as { status: number }).status).toBe(502);
  }
});

// The upstream's own secret taken out of an error answer: as sent, with its scheme, as a JSON string escapes it; nothing else touched.
import { expect, test } from "bun:test";
import { redactingStream, redactUpstreamSecret } from "./error-redaction.ts";
import type { Upstream } from "./upstream.ts";

const up = (authValue: string | null, auth_scheme = "Bearer") => ({ authValue, config: { auth_scheme } }) as unknown as Upstream;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test("every occurrence of the secret is [redacted], also as a JSON string escapes it; a body without it is the same bytes", () => {
  expect(dec(redactUpstreamSecret(enc("key Bearer sk-abc123 and sk-abc123"), up("Bearer sk-abc123")))).toBe("key Bearer [redacted] and [redacted]");
  const odd = 'pa"ss\\word';
  expect(dec(redactUpstreamSecret(enc(`{"error":${JSON.stringify(`bad key ${odd}`)}}`), up(odd, "")))).toBe('{"error":"bad key [redacted]"}');
  const clean = enc('{"error":"unauthorized"}');
  expect(redactUpstreamSecret(clean, up("Bearer sk-abc123"))).toBe(clean);
  // No secret, or one too short to look for: untouched.
  const body = enc("a b c");
  expect(redactUpstreamSecret(body, up(null))).toBe(body);
  expect(redactUpstreamSecret(body, up("Bearer a"))).toBe(body);
  expect(redactUpstreamSecret(body, null)).toBe(body);
});

test("a streamed error answer: the secret is [redacted] even split across chunks, in either spelling; the other bytes pass in order", () => {
  const secret = 'sk-"split"-123456';
  const escaped = JSON.stringify(secret).slice(1, -1);
  const body = `data: {"error":"bad key ${secret}"}\n\ndata: {"error":${JSON.stringify(`again ${secret}`)}}\n\n`;
  expect(body).toContain(escaped);
  const bytes = enc(body);
  // Every way of cutting the body in two, and in one-byte chunks.
  for (let cut = 0; cut <= bytes.byteLength; cut++) {
    const t = redactingStream(up(`Bearer ${secret}`), null)!;
    const out = dec(Buffer.concat([t.push(bytes.subarray(0, cut)), t.push(bytes.subarray(cut)), t.end()]));
    expect({ cut, out }).toEqual({ cut, out: 'data: {"error":"bad key [redacted]"}\n\ndata: {"error":"again [redacted]"}\n\n' });
  }
  const t = redactingStream(up(`Bearer ${secret}`), null)!;
  const parts = [...bytes].map((b) => t.push(Uint8Array.of(b)));
  parts.push(t.end());
  expect(dec(Buffer.concat(parts))).toBe('data: {"error":"bad key [redacted]"}\n\ndata: {"error":"again [redacted]"}\n\n');
  // No secret to look for: no transform added.
  expect(redactingStream(up(null), null)).toBeNull();
});

test("the credential of the upstream's URL is redacted beside its auth_secret, in whole and streamed answers", () => {
  const u = { authValue: "Bearer sk-abc123", urlSecrets: ["pw-77c2", "cHctNzdjMnBhc3M="], config: { auth_scheme: "Bearer" } } as unknown as Upstream;
  expect(dec(redactUpstreamSecret(enc("got Basic cHctNzdjMnBhc3M= and pw-77c2 and sk-abc123"), u))).toBe("got Basic [redacted] and [redacted] and [redacted]");
  const onlyUrl = { authValue: null, urlSecrets: ["pw-77c2"], config: { auth_scheme: "Bearer" } } as unknown as Upstream;
  const stream = redactingStream(onlyUrl, null)!;
  expect(dec(stream.push(enc("bad pw-7"))) + dec(stream.push(enc("7c2!"))) + dec(stream.end())).toBe("bad [redacted]!");
});

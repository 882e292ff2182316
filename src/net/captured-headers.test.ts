import { expect, test } from "bun:test";
import { capturedHeaders, HEADER_REDACTED, MAX_HEADERS, MAX_VALUE } from "./captured-headers.ts";

test("credentials are redacted by name and any value holding a c2l_ key; the rest is kept", () => {
  const h = new Headers({
    authorization: "Bearer secret-token",
    "x-api-key": "abc",
    cookie: "c2l_session=xyz",
    "x-custom": "prefix c2l_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "x-auth-token": "t0k",
    "content-type": "application/json",
    "user-agent": "curl/8",
    "x-c2l-replay-of": "1-abc",
  });
  expect(capturedHeaders(h)).toEqual({
    authorization: HEADER_REDACTED,
    "x-api-key": HEADER_REDACTED,
    cookie: HEADER_REDACTED,
    "x-custom": HEADER_REDACTED,
    "x-auth-token": HEADER_REDACTED,
    "content-type": "application/json",
    "user-agent": "curl/8",
    "x-c2l-replay-of": "1-abc",
  });
  expect(JSON.stringify(capturedHeaders(h))).not.toContain("secret-token");
});

test("bounded: at most MAX_HEADERS headers, each value cut to MAX_VALUE characters", () => {
  // docs/api.md: "at most 48 headers of 256 characters each".
  expect([MAX_HEADERS, MAX_VALUE]).toEqual([48, 256]);
  const h = new Headers();
  for (let i = 0; i < MAX_HEADERS + 10; i++) h.set(`x-h${i}`, "v".repeat(MAX_VALUE * 2));
  const out = capturedHeaders(h)!;
  expect(Object.keys(out).length).toBe(MAX_HEADERS);
  for (const v of Object.values(out)) expect(v.length).toBe(MAX_VALUE + 1);
  expect(capturedHeaders(null)).toBeUndefined();
});

test("from the toJSON object the upstream request already made: the same record, and that object left as it was", () => {
  const h = new Headers({ authorization: "Bearer secret-token", "content-type": "application/json", "set-cookie": "a=b" });
  const json = h.toJSON() as Record<string, string | string[]>;
  const before = structuredClone(json);
  expect(capturedHeaders(h, json)).toEqual(capturedHeaders(h)!);
  expect(capturedHeaders(h, json)).toEqual({ authorization: HEADER_REDACTED, "content-type": "application/json", "set-cookie": HEADER_REDACTED });
  expect(json).toEqual(before);
});

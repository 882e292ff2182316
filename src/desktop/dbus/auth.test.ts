// SASL EXTERNAL: the request carries the uid's digits in hex; OK, REJECTED, ERROR and nonsense answers are told apart.
import { expect, test } from "bun:test";
import { authRequest, readAuthAnswer } from "./auth.ts";

test("AUTH EXTERNAL sends the uid's decimal digits hex-encoded, after a NUL byte", () => {
  expect(authRequest(1000)).toBe("\0AUTH EXTERNAL 31303030\r\n");
  expect(authRequest(0)).toBe("\0AUTH EXTERNAL 30\r\n");
});

test("the bus's answers", () => {
  expect(readAuthAnswer("OK 1234567890abcdef1234567890abcdef")).toEqual({ ok: true, guid: "1234567890abcdef1234567890abcdef" });
  expect(readAuthAnswer("REJECTED DBUS_COOKIE_SHA1 ANONYMOUS")).toEqual({ ok: false, error: expect.stringContaining("it offers: DBUS_COOKIE_SHA1 ANONYMOUS") });
  expect(readAuthAnswer("ERROR bad")).toEqual({ ok: false, error: expect.stringContaining("error: bad") });
  expect(readAuthAnswer("OK nothex")).toEqual({ ok: false, error: expect.stringContaining('"OK nothex", not OK') });
  expect(readAuthAnswer("HTTP/1.1 400 Bad Request")).toEqual({ ok: false, error: expect.stringContaining("not OK") });
});

// Unit tests for the control API's Origin check: its own origin exactly (scheme, host and port), listed origins, and preflights.
import { expect, test } from "bun:test";
import { HttpError } from "../../core/http-error.ts";
import { checkOrigin, originAllowed } from "./cors.ts";
import type { SecurityPolicy } from "./policy.ts";

const HOST = "127.0.0.1:8765";
const policy: SecurityPolicy = { hosts: new Set(), origins: new Set(["https://app.example.com"]), bodyLimit: 1 << 20 };

/** The error checkOrigin throws, or null when it lets the request on. */
function refusal(origin: string | null, method = "GET", preflight = false): HttpError | null {
  const headers: Record<string, string> = {};
  if (origin !== null) headers.origin = origin;
  if (preflight) headers["access-control-request-method"] = "PUT";
  try {
    checkOrigin(new Request(`http://${HOST}/api/v1/status`, { method, headers }), HOST, policy, {});
    return null;
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
}

test("the API's own origin is exactly http://HOST: another scheme or port on the same host is another origin", () => {
  expect(originAllowed(`http://${HOST}`, HOST, policy)).toBe(true);
  expect(originAllowed(`HTTP://127.0.0.1:8765`, HOST, policy)).toBe(true);
  for (const other of [`https://${HOST}`, "http://127.0.0.1:8766", "http://127.0.0.1", "null", `http://evil.example/${HOST}`, `http://x.${HOST}`])
    expect({ other, allowed: originAllowed(other, HOST, policy) }).toEqual({ other, allowed: false });
  expect(originAllowed("https://APP.example.com", HOST, policy)).toBe(true);
  expect(originAllowed("http://app.example.com", HOST, policy)).toBe(false);
});

test("a foreign origin is refused on a plain request and on a preflight; no Origin passes, but a preflight needs one", () => {
  expect(refusal("https://evil.example")?.code).toBe("origin_not_allowed");
  expect(refusal("https://evil.example", "OPTIONS", true)?.code).toBe("origin_not_allowed");
  expect(refusal(null)).toBeNull();
  expect(refusal(null, "OPTIONS", true)).toMatchObject({ code: "origin_not_allowed", message: "a CORS preflight needs an Origin header" });
  const headers: Record<string, string> = {};
  const answer = checkOrigin(new Request(`http://${HOST}/api/v1/config`, { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "PUT" } }), HOST, policy, headers);
  expect(answer?.status).toBe(204);
  expect(answer?.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
});

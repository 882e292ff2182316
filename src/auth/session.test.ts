// Building the stored session from token responses: rotation, kept tokens, expiry, subject.
import { expect, test } from "bun:test";
import { UnsecuredJWT } from "jose";
import { sessionFromTokens, type AuthSession } from "./session.ts";
import { audienceParams, isPermanentGrantError, grantErrorMessage } from "./oidc.ts";

const ids = { issuer: "https://id.example", clientId: "desktop" };
const jwt = (claims: Record<string, unknown>) => new UnsecuredJWT(claims).encode();

test("a response without a new refresh or ID token keeps the previous ones; a rotated one replaces it", () => {
  const now = 1_000_000_000_000;
  const first = sessionFromTokens(
    { access_token: "at-1-opaque", token_type: "bearer", expires_in: 300, refresh_token: "rt-1-xxxxx", id_token: jwt({ sub: "u1", name: "Ann" }) } as any,
    ids,
    null,
    now,
  );
  expect(first).toMatchObject({ accessToken: "at-1-opaque", refreshToken: "rt-1-xxxxx", subject: "u1", name: "Ann", expiresAt: now + 300_000 });
  const kept = sessionFromTokens({ access_token: "at-2-opaque", token_type: "bearer", expires_in: 300 } as any, ids, first, now);
  expect(kept.refreshToken).toBe("rt-1-xxxxx");
  expect(kept.idToken).toBe(first.idToken);
  expect(kept.subject).toBe("u1");
  const rotated = sessionFromTokens({ access_token: "at-3-opaque", token_type: "bearer", refresh_token: "rt-2-yyyyy" } as any, ids, kept, now);
  expect(rotated.refreshToken).toBe("rt-2-yyyyy");
  expect(rotated.expiresAt).toBeNull();
});

test("a JWT access token's exp wins when it is earlier than expires_in; its sub is used without an ID token", () => {
  const now = 1_700_000_000_000;
  const at = jwt({ sub: "svc", exp: now / 1000 + 60 });
  const s: AuthSession = sessionFromTokens({ access_token: at, token_type: "bearer", expires_in: 3600 } as any, ids, null, now);
  expect(s.expiresAt).toBe(now + 60_000);
  expect(s.subject).toBe("svc");
});

test("clock skew: a JWT's lifetime (exp − iat) counts from when it arrived, not its exp read on a clock hours ahead", () => {
  const now = 1_700_000_000_000;
  const issuerNow = now / 1000 - 2 * 3600; // our clock is 2 h ahead of the issuer's
  const at = jwt({ sub: "svc", iat: issuerNow, exp: issuerNow + 300 });
  const s = sessionFromTokens({ access_token: at, token_type: "bearer", expires_in: 300 } as any, ids, null, now);
  expect(s.expiresAt).toBe(now + 300_000);
  // Without expires_in too, and with a clock behind the issuer's: still the token's 300 s.
  const behind = jwt({ sub: "svc", iat: now / 1000 + 600, exp: now / 1000 + 900 });
  expect(sessionFromTokens({ access_token: behind, token_type: "bearer" } as any, ids, null, now).expiresAt).toBe(now + 300_000);
  // A JWT that lives shorter than expires_in says still wins.
  const short = jwt({ sub: "svc", iat: issuerNow, exp: issuerNow + 60 });
  expect(sessionFromTokens({ access_token: short, token_type: "bearer", expires_in: 3600 } as any, ids, null, now).expiresAt).toBe(now + 60_000);
});

test("audience goes out as resource (RFC 8707) for URIs and as audience always; grant errors are classified", () => {
  const base = { issuer: "", client_id: "", scopes: [], flow: "device" as const, refresh_before: "60s" };
  expect(audienceParams({ ...base, audience: "" })).toEqual({});
  expect(audienceParams({ ...base, audience: "https://relay.example" })).toEqual({ audience: "https://relay.example", resource: "https://relay.example" });
  expect(audienceParams({ ...base, audience: "relay-api" })).toEqual({ audience: "relay-api" });
  expect(isPermanentGrantError({ error: "invalid_grant" })).toBe(true);
  expect(isPermanentGrantError(new TypeError("fetch failed"))).toBe(false);
  expect(grantErrorMessage({ error: "invalid_grant", error_description: "grant request is invalid" })).toBe("invalid_grant: grant request is invalid");
  expect(grantErrorMessage(Object.assign(new Error("x"), { cause: new Response("", { status: 503 }) }))).toBe("the issuer answered HTTP 503");
});

// What a failed grant says: the issuer's words, without any token the process holds (some issuers quote the one they were sent).
import { expect, test } from "bun:test";
import { registerSecret } from "../core/log.ts";
import { grantErrorMessage } from "./oidc.ts";

test("the issuer's error and description are kept; a token it quotes is not", () => {
  const token = `rt-${crypto.randomUUID()}`;
  registerSecret(token);
  expect(grantErrorMessage({ error: "invalid_grant", error_description: `refresh token ${token} has been revoked` })).toBe("invalid_grant: refresh token [redacted] has been revoked");
  expect(grantErrorMessage({ error: "invalid_grant" })).toBe("invalid_grant");
  expect(grantErrorMessage(new Error(`unexpected answer for ${token}`))).toBe("unexpected answer for [redacted]");
  expect(grantErrorMessage({ status: 503 })).toBe("the issuer answered HTTP 503");
});

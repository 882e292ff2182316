// What a failed grant says (the issuer's words, without any token the process holds), and which discovery documents are refused.
import { expect, test } from "bun:test";
import { registerSecret } from "../core/log.ts";
import { discover, grantErrorMessage, type AuthConfig } from "./oidc.ts";

test("the issuer's error and description are kept; a token it quotes is not", () => {
  const token = `rt-${crypto.randomUUID()}`;
  registerSecret(token);
  expect(grantErrorMessage({ error: "invalid_grant", error_description: `refresh token ${token} has been revoked` })).toBe("invalid_grant: refresh token [redacted] has been revoked");
  expect(grantErrorMessage({ error: "invalid_grant" })).toBe("invalid_grant");
  expect(grantErrorMessage(new Error(`unexpected answer for ${token}`))).toBe("unexpected answer for [redacted]");
  expect(grantErrorMessage({ status: 503 })).toBe("the issuer answered HTTP 503");
});

test("discovery: a loopback issuer's document naming an http endpoint off this machine, or another issuer, is refused", async () => {
  // An OpenID Connect Discovery 1.0 document, served over loopback http as a development issuer would.
  let doc: Record<string, unknown> = {};
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (new URL(req.url).pathname === "/.well-known/openid-configuration" ? Response.json(doc) : new Response("", { status: 404 })) });
  const issuer = `http://127.0.0.1:${server.port}`;
  const auth = { issuer, client_id: "c2l", audience: "", scopes: ["openid"], flow: "device", refresh_before: "60s" } as unknown as AuthConfig;
  const base = { issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, device_authorization_endpoint: `${issuer}/device`, jwks_uri: `${issuer}/jwks`, response_types_supported: ["code"] };
  const outcome = async (d: Record<string, unknown>) => {
    doc = d;
    return discover(auth).then((c) => `ok ${c.serverMetadata().token_endpoint}`, (e: Error) => `refused: ${e.message}`);
  };
  try {
    expect(await outcome(base)).toBe(`ok ${issuer}/token`);
    // The issuer answered: the sentence says its document names another issuer (not that it could not be reached).
    expect(await outcome({ ...base, issuer: "https://id.example.com" })).toBe(
      `refused: The sign-in issuer ${issuer} answered, but its discovery document names another issuer: expected ${issuer}, got https://id.example.com. Set [auth] issuer to exactly the issuer URL the identity provider publishes (a trailing slash counts).`,
    );
    expect(await outcome({ ...base, issuer: `${issuer}/realms/a/` })).toContain(`got ${issuer}/realms/a/. Set [auth] issuer`);
    // The refresh token and the device code would cross the network in cleartext.
    expect(await outcome({ ...base, token_endpoint: "http://10.1.2.3/token" })).toBe(
      `refused: The sign-in issuer ${issuer} names token_endpoint http://10.1.2.3 in its discovery document: only https is accepted (plain http only on loopback, for a loopback issuer).`,
    );
    expect(await outcome({ ...base, revocation_endpoint: "http://id.example.com/revoke" })).toStartWith(`refused: The sign-in issuer ${issuer} names revocation_endpoint http://id.example.com`);
    expect(await outcome({ ...base, device_authorization_endpoint: "ftp://127.0.0.1/device" })).toStartWith("refused: ");
    expect(await outcome({ ...base, token_endpoint: "https://id.example.com/token" })).toBe("ok https://id.example.com/token");
  } finally {
    server.stop(true);
  }
});

test("the sentences discovery throws show the issuer as every URL is shown: a credential in its query is hidden", async () => {
  const secret = "IssuerQuerySecret42";
  const auth = (issuer: string) => ({ issuer, client_id: "c2l", audience: "", scopes: ["openid"], flow: "device", refresh_before: "60s" }) as unknown as AuthConfig;
  const refusal = (issuer: string) => discover(auth(issuer)).then(() => "discovered", (e: Error) => e.message);
  // Plain http off loopback, an issuer nothing answers for, and one whose document names a cleartext endpoint.
  const offLoopback = await refusal(`http://id.example.com/?client_secret=${secret}`);
  expect(offLoopback).toBe("[auth] issuer must use https (plain http is only accepted on loopback): http://id.example.com/?client_secret=redacted");
  const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = closed.port;
  closed.stop(true);
  const unreachable = await refusal(`http://127.0.0.1:${port}/?client_secret=${secret}`);
  expect(unreachable).toStartWith(`Could not reach the sign-in issuer http://127.0.0.1:${port}/?client_secret=redacted: `);
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) => {
      const issuer = `http://127.0.0.1:${new URL(req.url).port}/?client_secret=${secret}`;
      return Response.json({ issuer, token_endpoint: "http://10.1.2.3/token", jwks_uri: `http://127.0.0.1:${new URL(req.url).port}/jwks`, response_types_supported: ["code"] });
    },
  });
  try {
    const cleartext = await refusal(`http://127.0.0.1:${server.port}/?client_secret=${secret}`);
    expect(cleartext).toStartWith("The sign-in issuer ");
    for (const m of [offLoopback, unreachable, cleartext]) expect(m).not.toContain(secret);
  } finally {
    server.stop(true);
  }
});

// A real relay and faults around its [oidc] issuer's keys (an HTML page for the key set; tokens without a key id while it has two keys): callers are told why, and neither the issuer nor the relay's log gets a hit per token.
import { expect, test } from "bun:test";
import type { Server } from "bun";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { hashToken } from "../../src/relay/auth.ts";
import { AGENT_TOKEN, cleanup, startRelayProc } from "../tunnel/helpers.ts";

/** A plain log line (stderr is a pipe here). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [\w.-]+: \S/;

/**
 * An issuer whose key set answers `jwks()`, and a real relay on it: `body` runs with both, then the promise common to
 * every fault checks that discovery and the key set were read once and logged once, each log line plain.
 */
async function withIssuer(jwks: () => Response, body: (iss: string, relayUrl: string) => Promise<void>): Promise<void> {
  const hits: Record<string, number> = {};
  const issuer: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(r): Response {
      const path = new URL(r.url).pathname;
      hits[path] = (hits[path] ?? 0) + 1;
      if (path === "/.well-known/openid-configuration") return Response.json({ issuer: `http://127.0.0.1:${issuer.port}`, jwks_uri: `http://127.0.0.1:${issuer.port}/jwks` });
      return jwks();
    },
  });
  const iss = `http://127.0.0.1:${issuer.port}`;
  const relay = await startRelayProc(`listen = "127.0.0.1:0"\n[oidc]\nissuer = "${iss}"\naudience = "relay"\njwks_cooldown = "30s"\n[[tunnels]]\nid = "alice"\nagent_token_sha256 = "${hashToken(AGENT_TOKEN)}"\n`);
  try {
    await body(iss, relay.url);
    // Before: both read again for every token, and "JWKS address discovered" logged each time.
    expect(hits).toEqual({ "/.well-known/openid-configuration": 1, "/jwks": 1 });
    const lines = relay.stderr().split("\n").filter((l) => l !== "");
    expect(lines.filter((l) => l.includes("JWKS address discovered"))).toHaveLength(1);
    expect(lines.filter((l) => !LOG_LINE.test(l))).toEqual([]);
  } finally {
    await relay.stop();
    issuer.stop(true);
    cleanup(relay.dir);
  }
}

test("a JWKS that answers 200 with an HTML page: 401 naming it for every token; discovery and the JWKS read once per cooldown, one discovery line in the log", async () => {
  const html = () => new Response("<html>please sign in</html>", { headers: { "content-type": "text/html" } });
  await withIssuer(html, async (iss, relayUrl) => {
    const { privateKey } = await generateKeyPair("RS256");
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject("user-1").setIssuer(iss).setAudience("relay").setIssuedAt().setExpirationTime("5m").sign(privateKey);
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${relayUrl}/t/alice/api/tags`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(r.status).toBe(401);
      // Before: "the JWT was rejected (ERR_JOSE_GENERIC)", as if the token were at fault.
      expect(((await r.json()) as { error: string }).error).toContain(`the issuer's JWKS ${iss}/jwks is not a JSON Web Key Set`);
    }
  });
}, 30_000);

test("JWTs without a key id while the issuer publishes two keys: each refused; discovery and the JWKS read once, one discovery line in the log", async () => {
  const pairs = [await generateKeyPair("RS256", { extractable: true }), await generateKeyPair("RS256", { extractable: true })];
  const keys = await Promise.all(pairs.map(async (p, i) => ({ ...(await exportJWK(p.publicKey)), kid: `k${i + 1}`, alg: "RS256", use: "sig" })));
  await withIssuer(
    () => Response.json({ keys }),
    async (iss, relayUrl) => {
      // Anyone can send such a token: no kid, so the relay cannot tell which of the issuer's keys to check it with.
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setSubject("user-1").setIssuer(iss).setAudience("relay").setIssuedAt().setExpirationTime("5m").sign(pairs[0]!.privateKey);
      // Before: 10 and 10 reads, and a "JWKS address discovered" line for each token.
      for (let i = 0; i < 10; i++) expect((await fetch(`${relayUrl}/agent`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(401);
    },
  );
}, 30_000);

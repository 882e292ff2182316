// A real relay whose [oidc] issuer serves an HTML page where its key set should be: every JWT caller is told why, and neither the issuer nor the relay's log gets a hit per token.
import { expect, test } from "bun:test";
import { generateKeyPair, SignJWT } from "jose";
import { hashToken } from "../../src/relay/auth.ts";
import { AGENT_TOKEN, cleanup, startRelayProc } from "../tunnel/helpers.ts";

/** A plain log line (stderr is a pipe here). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [\w.-]+: \S/;

test("a JWKS that answers 200 with an HTML page: 401 naming it for every token; discovery and the JWKS read once per cooldown, one discovery line in the log", async () => {
  const hits: Record<string, number> = {};
  const issuer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(r) {
      const path = new URL(r.url).pathname;
      hits[path] = (hits[path] ?? 0) + 1;
      if (path === "/.well-known/openid-configuration") return Response.json({ issuer: `http://127.0.0.1:${issuer.port}`, jwks_uri: `http://127.0.0.1:${issuer.port}/jwks` });
      return new Response("<html>please sign in</html>", { headers: { "content-type": "text/html" } });
    },
  });
  const iss = `http://127.0.0.1:${issuer.port}`;
  const relay = await startRelayProc(`listen = "127.0.0.1:0"\n[oidc]\nissuer = "${iss}"\naudience = "relay"\njwks_cooldown = "30s"\n[[tunnels]]\nid = "alice"\nagent_token_sha256 = "${hashToken(AGENT_TOKEN)}"\n`);
  try {
    const { privateKey } = await generateKeyPair("RS256");
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject("user-1").setIssuer(iss).setAudience("relay").setIssuedAt().setExpirationTime("5m").sign(privateKey);
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${relay.url}/t/alice/api/tags`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(r.status).toBe(401);
      // Before: "the JWT was rejected (ERR_JOSE_GENERIC)", as if the token were at fault.
      expect(((await r.json()) as { error: string }).error).toContain(`the issuer's JWKS ${iss}/jwks is not a JSON Web Key Set`);
    }
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
}, 30_000);

// Test helper: a JWT issuer of the test's own (a key pair, its JWKS on loopback), as src/relay/jwt.test.ts does it,
// and the relay's [oidc] lines that trust it.
import { exportJWK, generateKeyPair, SignJWT } from "jose";

export const TEST_ISS = "https://id.test.invalid";
export const TEST_AUD = "https://relay.test.invalid";

export interface TestIssuer {
  /** `[oidc]` for relay.toml. */
  oidcToml: string;
  /** An access token for `sub`, valid for 10 minutes. */
  sign(sub: string): Promise<string>;
  stop(): void;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const kp = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(kp.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const jwks = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ keys: [jwk] }) });
  return {
    oidcToml: `[oidc]\nissuer = "${TEST_ISS}"\naudience = "${TEST_AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\n`,
    sign: (sub) =>
      new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject(sub).setIssuer(TEST_ISS).setAudience(TEST_AUD).setIssuedAt().setExpirationTime("10m").sign(kp.privateKey),
    stop: () => jwks.stop(true),
  };
}

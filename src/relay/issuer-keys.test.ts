// The relay finds the issuer's keys through its discovery document (jwks_uri), checks the issuer it names, caches it and reads it again after a failure.
import { afterAll, beforeAll, beforeEach, expect, setSystemTime, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { parseRelayConfig } from "./config.ts";
import { RelayAuth } from "./auth.ts";

const AUD = "https://relay.test.invalid";
let server: ReturnType<typeof Bun.serve>;
let issuer = "";
let hits: Record<string, number> = {};
/** What the fake issuer serves: its discovery document's issuer and jwks_uri path, and the keys at each path. */
let disco: { status: number; issuer?: string; jwksPath: string };
let keysAt: Record<string, JWK[]> = {};

async function newKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, priv: privateKey as CryptoKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } as JWK };
}
const sign = (k: { kid: string; priv: CryptoKey }) =>
  new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: k.kid }).setSubject("user-1").setIssuer(issuer).setAudience(AUD).setIssuedAt().setExpirationTime("5m").sign(k.priv);
const req = (t: string) => new Request("http://relay/agent", { headers: { authorization: `Bearer ${t}` } });

function relayAuth(extra = "", cooldown = "200ms") {
  const r = parseRelayConfig(`[oidc]\nissuer = "${issuer}"\naudience = "${AUD}"\njwks_cooldown = "${cooldown}"\n${extra}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return new RelayAuth(r.config);
}

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(r) {
      const path = new URL(r.url).pathname;
      hits[path] = (hits[path] ?? 0) + 1;
      if (path === "/.well-known/openid-configuration") {
        if (disco.status !== 200) return new Response("down", { status: disco.status });
        return Response.json({ issuer: disco.issuer ?? issuer, jwks_uri: `${issuer}${disco.jwksPath}`, token_endpoint: `${issuer}/token` });
      }
      if (path === "/html") return new Response("<html>sign in first</html>", { headers: { "content-type": "text/html" } });
      const keys = keysAt[path];
      return keys ? Response.json({ keys }) : new Response("not found", { status: 404 });
    },
  });
  issuer = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));
beforeEach(() => {
  hits = {};
  disco = { status: 200, jwksPath: "/jwks" };
  keysAt = {};
});

test("without jwks_url the keys come from the discovery document's jwks_uri (oidc-provider serves /jwks), read once", async () => {
  const k = await newKey("k1");
  keysAt["/jwks"] = [k.jwk];
  const auth = relayAuth();
  for (let i = 0; i < 3; i++) expect(await auth.agent(req(await sign(k)))).toMatchObject({ ok: true, via: "jwt", subject: "user-1" });
  expect(hits["/.well-known/openid-configuration"]).toBe(1);
  expect(hits["/jwks"]).toBe(1);
  expect(hits["/.well-known/jwks.json"]).toBeUndefined();
  // An explicit jwks_url still wins, and no discovery happens.
  hits = {};
  keysAt["/other-keys"] = [k.jwk];
  expect((await relayAuth(`jwks_url = "${issuer}/other-keys"\n`).agent(req(await sign(k)))).ok).toBe(true);
  expect(hits).toEqual({ "/other-keys": 1 });
});

test("a discovery document naming another issuer is refused", async () => {
  const k = await newKey("k1");
  keysAt["/jwks"] = [k.jwk];
  disco.issuer = "https://evil.test.invalid";
  const r = await relayAuth().agent(req(await sign(k)));
  expect(r).toMatchObject({ ok: false, reason: expect.stringContaining('names the issuer "https://evil.test.invalid"') });
  expect(hits["/jwks"]).toBeUndefined();
});

test("a failed discovery is retried after the cooldown, not on every request", async () => {
  const k = await newKey("k1");
  keysAt["/jwks"] = [k.jwk];
  disco.status = 503;
  const auth = relayAuth();
  expect(await auth.agent(req(await sign(k)))).toMatchObject({ ok: false, reason: expect.stringContaining("HTTP 503") });
  expect((await auth.agent(req(await sign(k)))).ok).toBe(false);
  expect(hits["/.well-known/openid-configuration"]).toBe(1);
  disco.status = 200;
  await Bun.sleep(250);
  expect((await auth.agent(req(await sign(k)))).ok).toBe(true);
  expect(hits["/.well-known/openid-configuration"]).toBe(2);
});

test("a relay clock set back an hour (NTP, an operator) after a failed discovery: it is retried after the cooldown, not an hour later", async () => {
  const k = await newKey("k1");
  keysAt["/jwks"] = [k.jwk];
  disco.status = 503;
  const auth = relayAuth();
  const token = await sign(k);
  expect((await auth.agent(req(token))).ok).toBe(false);
  setSystemTime(new Date(Date.now() - 3_600_000));
  try {
    disco.status = 200;
    await Bun.sleep(250);
    expect(await auth.agent(req(token))).toMatchObject({ ok: true, via: "jwt" });
    expect(hits["/.well-known/openid-configuration"]).toBe(2);
  } finally {
    setSystemTime();
  }
});

test("a relay clock set back an hour after the key set was fetched: a key the issuer rotated in is fetched once the cooldown has passed, not an hour later", async () => {
  const k1 = await newKey("k1");
  const k2 = await newKey("k2");
  keysAt["/jwks"] = [k1.jwk];
  const auth = relayAuth();
  expect((await auth.agent(req(await sign(k1)))).ok).toBe(true);
  expect(hits["/jwks"]).toBe(1);
  setSystemTime(new Date(Date.now() - 3_600_000));
  try {
    keysAt["/jwks"] = [k1.jwk, k2.jwk];
    await Bun.sleep(250);
    expect(await auth.agent(req(await sign(k2)))).toMatchObject({ ok: true, via: "jwt" });
    expect(hits["/jwks"]).toBe(2);
  } finally {
    setSystemTime();
  }
});

test("when the key set cannot be fetched any more, discovery is read again (jwks_uri moved)", async () => {
  const k1 = await newKey("k1");
  keysAt["/jwks"] = [k1.jwk];
  const auth = relayAuth();
  expect((await auth.agent(req(await sign(k1)))).ok).toBe(true);
  // The issuer moves its keys and rotates: the old address is gone.
  const k2 = await newKey("k2");
  delete keysAt["/jwks"];
  keysAt["/keys/v2"] = [k2.jwk];
  disco.jwksPath = "/keys/v2";
  await Bun.sleep(250);
  expect((await auth.agent(req(await sign(k2)))).ok).toBe(false); // the refetch at the old address fails
  expect((await auth.agent(req(await sign(k2)))).ok).toBe(true);
  expect(hits["/.well-known/openid-configuration"]).toBe(2);
});

test("a JWKS answered 200 with no key set (an HTML page) counts as a failed fetch: named in the reason, not fetched again, nor discovery read again, within the cooldown", async () => {
  const k = await newKey("k1");
  disco.jwksPath = "/html";
  const auth = relayAuth("", "1s");
  const first = await auth.agent(req(await sign(k)));
  // Before: "the JWT was rejected (ERR_JOSE_GENERIC)", and discovery and the JWKS read again for every token.
  expect(first).toMatchObject({ ok: false, reason: expect.stringContaining(`the issuer's JWKS ${issuer}/html is not a JSON Web Key Set`) });
  for (let i = 0; i < 5; i++) expect((await auth.agent(req(await sign(k)))).ok).toBe(false);
  expect(hits).toEqual({ "/.well-known/openid-configuration": 1, "/html": 1 });
});

test("a token's own fault (no kid while the issuer has two keys) reads neither discovery nor the JWKS again", async () => {
  const [k1, k2] = [await newKey("k1"), await newKey("k2")];
  keysAt["/jwks"] = [k1.jwk, k2.jwk];
  const auth = relayAuth("", "1s");
  const noKid = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setSubject("user-1").setIssuer(issuer).setAudience(AUD).setIssuedAt().setExpirationTime("5m").sign(k1.priv);
  for (let i = 0; i < 5; i++) expect((await auth.agent(req(noKid))).ok).toBe(false);
  // Before: 5 and 5, with a "JWKS address discovered" line each.
  expect(hits).toEqual({ "/.well-known/openid-configuration": 1, "/jwks": 1 });
  expect((await auth.agent(req(await sign(k2)))).ok).toBe(true);
});

test("an issuer or jwks_url over plain http off loopback is a config error", () => {
  for (const line of [`issuer = "http://id.example.com"\naudience = "${AUD}"`, `issuer = "https://id.example.com"\naudience = "${AUD}"\njwks_url = "http://id.example.com/jwks"`]) {
    const r = parseRelayConfig(`[oidc]\n${line}\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.message).toContain("must be an https URL");
  }
});

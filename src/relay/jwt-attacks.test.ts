// Forged and misused JWTs against the relay's verifier (jose + a JWKS on loopback that counts its fetches): what jwt.test.ts does not try.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from "jose";
import { parseRelayConfig } from "./config.ts";
import { RelayAuth, subjectTunnelId } from "./auth.ts";
import { startRelay } from "./server.ts";
import { connect } from "../tunnel/connector.ts";
import { serveStream } from "../protocol/http-over-stream.ts";

const ISS = "https://id.test.invalid";
const AUD = "https://relay.test.invalid";
let priv: CryptoKey;
let pub: CryptoKey;
let jwk: JWK;
let jwks: ReturnType<typeof Bun.serve>;
let fetches = 0;
let discoveries = 0;
/** What the JWKS endpoint answers: the key set, or an error status (the issuer failing). */
let jwksStatus = 200;

beforeAll(async () => {
  const kp = await generateKeyPair("RS256", { extractable: true });
  priv = kp.privateKey as CryptoKey;
  pub = kp.publicKey as CryptoKey;
  jwk = { ...(await exportJWK(pub)), kid: "k1", alg: "RS256", use: "sig" };
  jwks = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      // Discovery for an issuer on this address (the relay reads jwks_uri from it when no jwks_url is set).
      if (new URL(req.url).pathname === "/.well-known/openid-configuration") return (discoveries++, Response.json({ issuer: `http://127.0.0.1:${jwks.port}`, jwks_uri: `http://127.0.0.1:${jwks.port}/jwks` }));
      fetches++;
      return jwksStatus === 200 ? Response.json({ keys: [jwk] }) : new Response("down", { status: jwksStatus });
    },
  });
});
afterAll(() => jwks.stop(true));

function relayAuth(cooldown = "2s") {
  const r = parseRelayConfig(
    `[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\njwks_cooldown = "${cooldown}"\n[[tunnels]]\nid = "home"\nsubject = "owner-7"\nclient_key_sha256 = []\n`,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return new RelayAuth(r.config);
}
const bearer = (t: string) => new Request("http://relay/agent", { headers: { authorization: `Bearer ${t}` } });
const now = () => Math.floor(Date.now() / 1000);

function claims(o: { sub?: string; aud?: string | string[]; iss?: string; exp?: number; nbf?: number } = {}) {
  const j = new SignJWT({}).setSubject(o.sub ?? "user-1").setIssuer(o.iss ?? ISS).setAudience(o.aud ?? AUD).setIssuedAt().setExpirationTime(o.exp ?? now() + 300);
  if (o.nbf !== undefined) j.setNotBefore(o.nbf);
  return j;
}
const sign = (o: Parameters<typeof claims>[0] = {}, kid = "k1") => claims(o).setProtectedHeader({ alg: "RS256", kid }).sign(priv);

/** A token with a header and payload of the attacker's choosing and the given signature. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, sig = ""): string {
  const enc = (o: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(o)));
  return `${enc(header)}.${enc(payload)}.${sig}`;
}
const validPayload = () => ({ sub: "owner-7", iss: ISS, aud: AUD, iat: now(), exp: now() + 300 });

test("alg none (empty signature) is refused, for an agent, a client and a signed-in user", async () => {
  const auth = relayAuth();
  for (const alg of ["none", "None", "NONE"]) {
    const t = forge({ alg, kid: "k1" }, validPayload());
    expect((await auth.agent(bearer(t))).ok).toBe(false);
    expect((await auth.client(bearer(t), "home")).ok).toBe(false);
    expect((await auth.user(bearer(t))).ok).toBe(false);
  }
});

test("key confusion: HS256 signed with the issuer's public key (PEM, JWK n, DER) as the HMAC secret is refused", async () => {
  const auth = relayAuth();
  const pem = await exportSPKI(pub);
  const der = new Uint8Array(await crypto.subtle.exportKey("spki", pub));
  for (const secret of [new TextEncoder().encode(pem), new TextEncoder().encode(JSON.stringify(jwk)), der, new TextEncoder().encode(jwk.n!)]) {
    for (const kid of ["k1", undefined]) {
      const t = await new SignJWT(validPayload()).setProtectedHeader({ alg: "HS256", ...(kid ? { kid } : {}) }).sign(secret);
      expect((await auth.agent(bearer(t))).ok).toBe(false);
      expect((await auth.client(bearer(t), "home")).ok).toBe(false);
    }
  }
}, 30_000);

test("a flood of unknown key ids refetches the JWKS at most once per cooldown, concurrent and one after another", async () => {
  const auth = relayAuth("1s");
  expect((await auth.agent(bearer(await sign()))).ok).toBe(true);
  fetches = 0;
  const t0 = Date.now();
  // 40 at once, each with its own unknown kid.
  const burst = await Promise.all(Array.from({ length: 40 }, async (_, i) => auth.agent(bearer(await sign({}, `unknown-${i}`)))));
  expect(burst.every((r) => !r.ok)).toBe(true);
  // Then one after another for a while.
  for (let i = 0; i < 2; i++) expect((await auth.agent(bearer(await sign({}, `later-${i}`)))).ok).toBe(false);
  const cooldowns = (Date.now() - t0) / 1000;
  expect(fetches).toBeGreaterThanOrEqual(1);
  expect(fetches).toBeLessThanOrEqual(Math.ceil(cooldowns) + 1);
  // The known key still works.
  expect((await auth.agent(bearer(await sign()))).ok).toBe(true);
}, 30_000);

test("an issuer whose JWKS fails is not hammered: a flood of tokens refetches at most once per cooldown", async () => {
  const auth = relayAuth("1s");
  jwksStatus = 503;
  fetches = 0;
  try {
    const t0 = Date.now();
    const burst = await Promise.all(Array.from({ length: 20 }, async (_, i) => auth.agent(bearer(await sign({}, i % 2 ? "k1" : `unknown-${i}`)))));
    expect(burst.every((r) => !r.ok)).toBe(true);
    for (let i = 0; i < 30; i++) expect((await auth.agent(bearer(await sign()))).ok).toBe(false);
    const cooldowns = (Date.now() - t0) / 1000;
    expect(fetches).toBeLessThanOrEqual(Math.ceil(cooldowns) + 1);
  } finally {
    jwksStatus = 200;
  }
  // The issuer back: after the cooldown the keys are fetched again and the token accepted.
  await Bun.sleep(1100);
  expect((await auth.agent(bearer(await sign()))).ok).toBe(true);
}, 30_000);

test("with a discovered JWKS that fails, neither the discovery document nor the JWKS is read on every token", async () => {
  const iss = `http://127.0.0.1:${jwks.port}`;
  const r = parseRelayConfig(`[oidc]\nissuer = "${iss}"\naudience = "${AUD}"\njwks_cooldown = "1s"\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const auth = new RelayAuth(r.config);
  const token = () => sign({ iss });
  jwksStatus = 500;
  fetches = 0;
  discoveries = 0;
  try {
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) expect((await auth.agent(bearer(await token()))).ok).toBe(false);
    const cooldowns = (Date.now() - t0) / 1000;
    expect(fetches).toBeLessThanOrEqual(Math.ceil(cooldowns) + 1);
    expect(discoveries).toBeLessThanOrEqual(Math.ceil(cooldowns) + 1);
  } finally {
    jwksStatus = 200;
  }
  await Bun.sleep(1100);
  expect((await auth.agent(bearer(await token()))).ok).toBe(true);
}, 30_000);

test("wrong issuer is refused even when the issuer differs only by a trailing slash or case", async () => {
  const auth = relayAuth();
  for (const iss of [`${ISS}/`, ISS.toUpperCase(), "https://evil.test.invalid", ""]) expect((await auth.agent(bearer(await sign({ iss })))).ok).toBe(false);
});

test("an audience array is accepted only when it contains the relay's audience", async () => {
  const auth = relayAuth();
  expect((await auth.agent(bearer(await sign({ aud: ["https://other.invalid", AUD] })))).ok).toBe(true);
  expect((await auth.agent(bearer(await sign({ aud: ["https://other.invalid", `${AUD}/`] })))).ok).toBe(false);
  expect((await auth.agent(bearer(await sign({ aud: [] })))).ok).toBe(false);
});

test("expired and not-yet-valid (nbf) tokens are refused; a token without exp is refused", async () => {
  const auth = relayAuth();
  expect(await auth.agent(bearer(await sign({ exp: now() - 5 })))).toMatchObject({ ok: false, reason: expect.stringMatching(/ERR_JWT_EXPIRED/) });
  expect(await auth.agent(bearer(await sign({ nbf: now() + 600 })))).toMatchObject({ ok: false, reason: expect.stringMatching(/ERR_JWT_CLAIM_VALIDATION_FAILED/) });
  const noExp = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject("user-1").setIssuer(ISS).setAudience(AUD).sign(priv);
  expect((await auth.agent(bearer(noExp))).ok).toBe(false);
  const noSub = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "k1" }).setIssuer(ISS).setAudience(AUD).setExpirationTime("5m").sign(priv);
  expect((await auth.agent(bearer(noSub))).ok).toBe(false);
});

test("a subject named like another user's tunnel id (its hashed id, or a bound tunnel's id) gets its own tunnel, not theirs", async () => {
  const auth = relayAuth();
  const victimId = subjectTunnelId(ISS, "victim");
  for (const sub of [victimId, "home", "owner-7 ", "OWNER-7"]) {
    const a = await auth.agent(bearer(await sign({ sub })));
    expect(a.ok && a.tunnelId).toBe(subjectTunnelId(ISS, sub));
    expect((await auth.client(bearer(await sign({ sub })), victimId)).ok).toBe(false);
    expect((await auth.client(bearer(await sign({ sub })), "home")).ok).toBe(false);
  }
});

test("a JWT in x-api-key is a client credential for its subject's tunnel only; an agent or a signed-in user must use Authorization", async () => {
  const auth = relayAuth();
  const viaKey = (t: string) => new Request("http://relay/t/home/api/tags", { headers: { "x-api-key": t } });
  expect((await auth.client(viaKey(await sign({ sub: "owner-7" })), "home")).ok).toBe(true);
  expect((await auth.client(viaKey(await sign({ sub: "user-1" })), "home")).ok).toBe(false);
  expect((await auth.client(viaKey(forge({ alg: "none" }, validPayload())), "home")).ok).toBe(false);
  expect((await auth.agent(viaKey(await sign({ sub: "owner-7" })))).ok).toBe(false);
  expect((await auth.user(viaKey(await sign({ sub: "owner-7" })))).ok).toBe(false);
  // An empty Authorization beside it does not fall back to x-api-key.
  const both = new Request("http://relay/t/home/api/tags", { headers: { authorization: "", "x-api-key": await sign({ sub: "owner-7" }) } });
  expect((await auth.client(both, "home")).ok).toBe(false);
});

test("through a running relay: a JWT in x-api-key reaches its own tunnel and stays at the relay; another user's or a forged one is refused", async () => {
  const r = parseRelayConfig(`listen = "127.0.0.1:0"\n[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const relay = await startRelay(r.config);
  const seen: Record<string, string>[] = [];
  const agent = await connect({
    url: `${relay.url.replace(/^http/, "ws")}/agent`,
    token: await sign({ sub: "victim" }),
    agent: "t",
    heartbeatMs: 1000,
    toleranceMs: 5000,
    maxStreams: 4,
    onStream: (s) => void serveStream(s, async (req) => (seen.push(Object.fromEntries(req.headers)), Response.json({ models: [] }))),
  });
  try {
    expect(agent.tunnelId).toBe(subjectTunnelId(ISS, "victim"));
    const call = async (headers: Record<string, string>) => {
      const res = await fetch(`${relay.url}/t/${agent.tunnelId}/api/tags`, { headers });
      await res.arrayBuffer();
      return res.status;
    };
    const own = await sign({ sub: "victim" });
    expect(await call({ "x-api-key": own })).toBe(200);
    expect(JSON.stringify(seen)).not.toContain(own);
    expect(seen.at(-1)!["x-api-key"]).toBeUndefined();
    // The attacker's valid JWT, a subject named like the victim's tunnel id, alg none: refused, nothing reaches the agent.
    const n = seen.length;
    for (const t of [await sign({ sub: "attacker" }), await sign({ sub: agent.tunnelId }), forge({ alg: "none" }, { ...validPayload(), sub: "victim" })]) {
      expect(await call({ "x-api-key": t })).toBe(401);
      expect(await call({ authorization: `Bearer ${t}` })).toBeGreaterThanOrEqual(401);
    }
    expect(seen.length).toBe(n);
  } finally {
    agent.close("test over");
    await relay.stop();
  }
}, 20_000);

// JWT verification at the relay with jose against a JWKS on loopback: issuer, audience, expiry, key rotation, subject → tunnel.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { parseRelayConfig } from "./config.ts";
import { hashToken, RelayAuth, subjectTunnelId } from "./auth.ts";
import { startRelay } from "./server.ts";
import { connect } from "../tunnel/connector.ts";
import { serveStream } from "../protocol/http-over-stream.ts";

const ISS = "https://id.test.invalid";
const AUD = "https://relay.test.invalid";
let keys: { kid: string; priv: CryptoKey; jwk: JWK }[] = [];
let served: JWK[] = [];
let jwks: ReturnType<typeof Bun.serve>;
let jwksFetches = 0;

async function newKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  return { kid, priv: privateKey as CryptoKey, jwk };
}

const sign = (k: { kid: string; priv: CryptoKey }, o: { sub?: string; aud?: string; iss?: string; exp?: string | number; nbf?: number } = {}) =>
  new SignJWT(o.nbf ? { nbf: o.nbf } : {})
    .setProtectedHeader({ alg: "RS256", kid: k.kid })
    .setSubject(o.sub ?? "user-1")
    .setIssuer(o.iss ?? ISS)
    .setAudience(o.aud ?? AUD)
    .setIssuedAt()
    .setExpirationTime(o.exp ?? "5m")
    .sign(k.priv);

beforeAll(async () => {
  keys = [await newKey("k1")];
  served = [keys[0]!.jwk];
  jwks = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (jwksFetches++, Response.json({ keys: served })) });
});
afterAll(() => jwks.stop(true));

function relayAuth(cooldown?: string) {
  const r = parseRelayConfig(`[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\n${cooldown ? `jwks_cooldown = "${cooldown}"\n` : ""}[[tunnels]]\nid = "home"\nsubject = "owner-7"\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return new RelayAuth(r.config);
}
const req = (t: string) => new Request("http://relay/agent", { headers: { authorization: `Bearer ${t}` } });

test("a valid access token maps its subject to a tunnel id; a bound subject gets its configured tunnel", async () => {
  const auth = relayAuth();
  expect(await auth.agent(req(await sign(keys[0]!)))).toMatchObject({ ok: true, tunnelId: subjectTunnelId(ISS, "user-1"), via: "jwt", subject: "user-1", expiresAt: expect.any(Number) });
  const owner = await auth.agent(req(await sign(keys[0]!, { sub: "owner-7" })));
  expect(owner.ok && owner.tunnelId).toBe("home");
  // A client JWT works only for the tunnel its subject owns.
  expect((await auth.client(req(await sign(keys[0]!, { sub: "owner-7" })), "home")).ok).toBe(true);
  expect((await auth.client(req(await sign(keys[0]!, { sub: "user-1" })), "home")).ok).toBe(false);
});

test("expired, wrong-audience and wrong-issuer tokens are refused", async () => {
  const auth = relayAuth();
  const expired = await auth.agent(req(await sign(keys[0]!, { exp: Math.floor(Date.now() / 1000) - 60 })));
  const reason = (expired as { reason?: string }).reason;
  expect(expired).toMatchObject({ ok: false, reason: expect.stringMatching(/ERR_JWT_EXPIRED/) });
  // A clock that is off looks like this: the reason says the claim and the clock, not only jose's code.
  expect(reason).toContain("(ERR_JWT_EXPIRED): it has expired by the relay's clock; if it was just issued, the issuer's, this machine's or the relay's clock is off");
  const early = await auth.agent(req(await sign(keys[0]!, { nbf: Math.floor(Date.now() / 1000) + 3600, exp: "2h" })));
  expect(early).toMatchObject({ ok: false, reason: expect.stringContaining("it is not valid yet (nbf) by the relay's clock") });
  expect(await auth.agent(req(await sign(keys[0]!, { aud: "https://other" })))).toMatchObject({ ok: false, reason: expect.stringMatching(/ERR_JWT_CLAIM_VALIDATION_FAILED/) });
  expect((await auth.agent(req(await sign(keys[0]!, { iss: "https://evil" })))).ok).toBe(false);
});

test("a rotated signing key is picked up from the JWKS", async () => {
  const auth = relayAuth("0s");
  expect((await auth.agent(req(await sign(keys[0]!)))).ok).toBe(true);
  const k2 = await newKey("k2");
  served = [k2.jwk]; // the issuer rotates: k1 retired, k2 published
  expect((await auth.agent(req(await sign(k2)))).ok).toBe(true);
  const forged = await newKey("k2");
  expect((await auth.agent(req(await sign(forged)))).ok).toBe(false);
});

test("a key rotated right after a fetch is accepted at once: an unknown kid waits out the short default cooldown and refetches", async () => {
  const r = parseRelayConfig(`[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\n`);
  expect(r.ok && r.config.oidc.jwks_cooldown).toBe("2s");
  const auth = relayAuth();
  served = [keys[0]!.jwk];
  jwksFetches = 0;
  expect((await auth.agent(req(await sign(keys[0]!)))).ok).toBe(true);
  const k3 = await newKey("k3");
  served = [keys[0]!.jwk, k3.jwk]; // rotated within the cooldown of that fetch
  expect(await auth.agent(req(await sign(k3)))).toMatchObject({ ok: true, via: "jwt" });
  expect(jwksFetches).toBe(2);
  // An unknown kid right after that refetch: one more refetch at most, then refused.
  const stranger = await newKey("k-unknown");
  expect((await auth.agent(req(await sign(stranger)))).ok).toBe(false);
  expect(jwksFetches).toBe(3);
}, 10_000);

test("an agent connected with a JWT is asked to reconnect when the token expires", async () => {
  const r = parseRelayConfig(`listen = "127.0.0.1:0"\n[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const relay = await startRelay(r.config);
  try {
    const k = keys[0]!;
    served = [k.jwk];
    const token = await sign(k, { exp: Math.floor(Date.now() / 1000) + 2 });
    const conn = await connect({ url: `${relay.url.replace(/^http/, "ws")}/agent`, token, agent: "t", heartbeatMs: 1000, toleranceMs: 5000, maxStreams: 4, onStream: () => {} });
    expect(conn.tunnelId).toBe(subjectTunnelId(ISS, "user-1"));
    const t0 = Date.now();
    const info = await Promise.race([conn.closed, Bun.sleep(6_000).then(() => null)]);
    expect(info).not.toBeNull();
    expect(info!.code).not.toBe("heartbeat_timeout");
    expect(Date.now() - t0).toBeGreaterThan(500);
  } finally {
    await relay.stop();
  }
}, 10_000);

test("make before break: the agent reconnects as soon as its token expires, and the stream in flight on the old connection still finishes", async () => {
  const r = parseRelayConfig(`listen = "127.0.0.1:0"\ngo_away_grace = "5s"\n[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const relay = await startRelay(r.config);
  const k = keys[0]!;
  served = [k.jwk];
  // Ten lines, 250 ms apart: the stream outlives the first token.
  const slow = () =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(c) {
          for (let i = 0; i < 10; i++) {
            await Bun.sleep(250);
            c.enqueue(new TextEncoder().encode(`${i}\n`));
          }
          c.close();
        },
      }),
    );
  const agent = async (exp: number) =>
    connect({ url: `${relay.url.replace(/^http/, "ws")}/agent`, token: await sign(k, { exp }), agent: "t", heartbeatMs: 1000, toleranceMs: 5000, maxStreams: 4, onStream: (s) => void serveStream(s, async () => slow()) });
  try {
    const first = await agent(Math.floor(Date.now() / 1000) + 2);
    const res = await fetch(`${relay.url}/t/${first.tunnelId}/api/generate`, { method: "POST", body: "{}", headers: { Authorization: `Bearer ${await sign(k, { exp: Math.floor(Date.now() / 1000) + 60 })}` } });
    expect(res.status).toBe(200);
    const text = res.text();
    // The relay's GO_AWAY (the token expired) ends the connection for the supervisor at once, not when the stream ends.
    const info = await Promise.race([first.closed, Bun.sleep(6_000).then(() => null)]);
    expect(info?.code).toBe("normal");
    expect(info?.reason).toMatch(/going away/);
    expect(info?.moving).toBe(true);
    // A call made while the agent is away waits for it (not refused: the old connection takes no new streams).
    const between = fetch(`${relay.url}/t/${first.tunnelId}/api/tags`, { headers: { Authorization: `Bearer ${await sign(k, { exp: Math.floor(Date.now() / 1000) + 60 })}` } });
    await Bun.sleep(100);
    const second = await agent(Math.floor(Date.now() / 1000) + 60);
    expect((await between).status).toBe(200);
    expect(second.tunnelId).toBe(first.tunnelId);
    // The new connection does not cut the old one's stream.
    expect((await text).split("\n").filter(Boolean)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    second.close("test over");
  } finally {
    await relay.stop();
  }
}, 15_000);

test("an agent sent away (its token expired) is moving, not offline: a call waits up to 2 s for it, then hears 503 tunnel_moving with Retry-After", async () => {
  const r = parseRelayConfig(`listen = "127.0.0.1:0"\ngo_away_grace = "5s"\n[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const relay = await startRelay(r.config);
  const k = keys[0]!;
  served = [k.jwk];
  const agent = async (exp: number) =>
    connect({ url: `${relay.url.replace(/^http/, "ws")}/agent`, token: await sign(k, { exp }), agent: "t", heartbeatMs: 1000, toleranceMs: 5000, maxStreams: 4, onStream: (s) => void serveStream(s, async () => Response.json({ models: [] })) });
  const call = async (id: string) => {
    const res = await fetch(`${relay.url}/t/${id}/api/tags`, { headers: { Authorization: `Bearer ${await sign(k, { exp: Math.floor(Date.now() / 1000) + 60 })}` } });
    await res.arrayBuffer();
    return [res.status, res.headers.get("x-c2l-error-code"), res.headers.get("retry-after")];
  };
  try {
    const first = await agent(Math.floor(Date.now() / 1000) + 2);
    expect((await call(first.tunnelId))[0]).toBe(200);
    expect((await first.closed).moving).toBe(true);
    // Its session ended at once (nothing in flight); the relay knows it sent the agent away.
    await Bun.sleep(50);
    expect(relay.tunnels()).toEqual([]);
    const t0 = performance.now();
    expect(await call(first.tunnelId)).toEqual([503, "tunnel_moving", "1"]);
    expect(performance.now() - t0).toBeGreaterThan(1_500);
    // Back within the wait: the call is served by the new connection.
    const held = call(first.tunnelId);
    await Bun.sleep(200);
    const second = await agent(Math.floor(Date.now() / 1000) + 60);
    expect(await held).toEqual([200, null, null]);
    expect((await call(second.tunnelId))[0]).toBe(200);
    second.close("test over");
    await Bun.sleep(50);
    // An agent that left on its own (not sent away) is offline.
    expect(await call(second.tunnelId)).toEqual([502, "tunnel_offline", null]);
  } finally {
    await relay.stop();
  }
}, 15_000);

test("a subject owns every tunnel bound to it (by id, /t/ID/), the signed-in user is read from a JWT only", async () => {
  const r = parseRelayConfig(
    `[oidc]\nissuer = "${ISS}"\naudience = "${AUD}"\njwks_url = "http://127.0.0.1:${jwks.port}/jwks"\n[[tunnels]]\nid = "home"\nsubject = "owner-7"\n[[tunnels]]\nid = "work"\nsubject = "owner-7"\n[[tunnels]]\nid = "keyed"\nagent_token_sha256 = "${"a".repeat(64)}"\nclient_key_sha256 = ["${hashToken("a-client-key")}"]\n`,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const auth = new RelayAuth(r.config);
  served = [keys[0]!.jwk];
  expect(auth.tunnelsOf("owner-7")).toEqual(["home", "work"]);
  expect(auth.tunnelsOf("user-1")).toEqual([subjectTunnelId(ISS, "user-1")]);
  const owner = await sign(keys[0]!, { sub: "owner-7" });
  expect((await auth.client(req(owner), "work")).ok).toBe(true);
  expect((await auth.client(req(owner), "keyed")).ok).toBe(false);
  expect(await auth.user(req(owner))).toEqual({ ok: true, subject: "owner-7" });
  expect(await auth.user(req("a-client-key"))).toMatchObject({ ok: false, reason: expect.stringContaining("not a client key") });
  expect(await auth.user(new Request("http://relay/me/api/tags"))).toMatchObject({ ok: false, reason: expect.stringContaining("missing Authorization") });
});

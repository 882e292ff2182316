// Test helper: a real OpenID provider (oidc-provider) on loopback with device, PKCE and refresh grants and JWT access tokens.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
// @ts-ignore oidc-provider ships no type declarations (and @types/oidc-provider lags v9)
import Provider from "oidc-provider";
// @ts-ignore no type declarations either; the provider's own in-memory store, extended below for a reuse grace
import MemoryAdapter from "oidc-provider/lib/adapters/memory_adapter.js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homeEnv, tempHome } from "../helpers/daemon.ts";

export const CLIENT_ID = "c2l-desktop";
export const AUDIENCE = "https://relay.test.invalid";

export interface TestProvider {
  issuer: string;
  provider: InstanceType<typeof Provider>;
  /** POST requests to the token endpoint so far (every grant: device polling, code, refresh). */
  tokenCalls(): number;
  /** POST requests to the device authorization endpoint so far (each starts a device sign-in). */
  deviceCalls(): number;
  /** The tokens sent to the revocation endpoint so far (RFC 7009), in order, each with the hint the client gave. */
  revocations(): { token: string; hint: string | null }[];
  /** While set, the token endpoint answers with this HTTP status (a server in trouble). */
  failTokenEndpoint(status: number | null): void;
  /** Signs a JWT with the provider's own key (to build tokens the relay must refuse, e.g. a wrong audience). */
  sign(claims: Record<string, unknown>): Promise<string>;
  /** Revokes a token through the provider's revocation endpoint, as a client would. */
  revoke(token: string): Promise<void>;
  /** The issuer goes down (its port refuses connections) and comes back on the same port, its grants intact. */
  down(): Promise<void>;
  up(): Promise<void>;
  /**
   * Holds the next token-endpoint call: "request" before the provider sees it, "response" after the provider answered
   * (the grant is done, a rotated refresh token consumed) but before the client gets the answer. Resolves once held;
   * `release()` delivers (a held request is then served), a client killed meanwhile never gets it.
   */
  hold(step: "request" | "response"): Promise<{ release(): void }>;
  /** Changes refreshReuseGraceSec from now on. */
  setReuseGrace(sec: number): void;
  close(): Promise<void>;
}

export interface ProviderOptions {
  accessTokenTtlSec?: number;
  /**
   * Seconds a rotated-away refresh token is still accepted (Auth0 "reuse interval", Okta "grace period"). Default 0:
   * oidc-provider's strict rotation, where presenting a consumed refresh token revokes the whole grant.
   */
  refreshReuseGraceSec?: number;
  /** More clients besides the desktop's (e.g. the relay's chat page, a public web client with its redirect URI). */
  extraClients?: Record<string, unknown>[];
}

export async function startProvider(opts: ProviderOptions = {}): Promise<TestProvider> {
  let handler: ((req: any, res: any) => void) | null = null;
  let tokenCalls = 0;
  let deviceCalls = 0;
  const revocations: { token: string; hint: string | null }[] = [];
  let failWith: number | null = null;
  let holding: { step: "request" | "response"; held(release: () => void): void } | null = null;
  const server: Server = createServer((req, res) => {
    if (req.method === "POST" && req.url?.startsWith("/device/auth")) deviceCalls++;
    if (req.method === "POST" && req.url?.startsWith("/token") && !req.url.startsWith("/token/")) {
      tokenCalls++;
      if (failWith) {
        req.resume();
        res.writeHead(failWith, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "temporarily_unavailable", error_description: "test outage" }));
        return;
      }
      const h = holding;
      holding = null;
      if (h?.step === "request") return h.held(() => handler!(req, res));
      if (h?.step === "response") {
        // The provider runs the grant; its answer is kept here until released.
        const end = res.end.bind(res);
        const write = res.write.bind(res);
        const chunks: unknown[] = [];
        res.write = ((c: unknown) => (chunks.push(c), true)) as typeof res.write;
        res.end = ((c?: unknown) => {
          if (c !== undefined && typeof c !== "function") chunks.push(c);
          h.held(() => {
            for (const x of chunks) write(x as string);
            end();
          });
          return res;
        }) as typeof res.end;
      }
    }
    handler!(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  let grace = opts.refreshReuseGraceSec ?? 0;
  class GraceAdapter extends MemoryAdapter {
    async find(id: string) {
      const p = await super.find(id);
      // Within the grace a consumed refresh token reads as unused: the provider rotates it again instead of revoking.
      if (grace && (this as unknown as { model: string }).model === "RefreshToken" && p?.consumed && Date.now() / 1000 - p.consumed < grace) return { ...p, consumed: undefined };
      return p;
    }
  }
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "test-key-1", alg: "RS256", use: "sig" };
  const ttl = opts.accessTokenTtlSec ?? 6;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: "native",
        token_endpoint_auth_method: "none",
        grant_types: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "authorization_code"],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1/callback"],
      },
      ...(opts.extraClients ?? []),
    ],
    jwks: { keys: [jwk as any] },
    cookies: { keys: ["test-cookie-key-0123456789"] },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, name: `Test ${id}` }),
    }),
    claims: { openid: ["sub"], profile: ["name"] },
    scopes: ["openid", "profile", "offline_access", "tunnel"],
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => AUDIENCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => ({
          scope: "tunnel",
          audience: resource,
          accessTokenTTL: ttl,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    ttl: {
      AccessToken: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? 3600,
      DeviceCode: 300, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600, IdToken: 3600 },
    // Public clients rotate refresh tokens on every use: the old one stops working.
    rotateRefreshToken: true,
    adapter: GraceAdapter,
    pkce: { required: () => true },
  } as any);
  provider.on("server_error", (_ctx: unknown, e: Error) => console.error("oidc-provider server_error", e));
  // Recorded after the provider read the request (its parsed parameters): whatever it then did with the token.
  provider.use(async (ctx: { path: string; oidc?: { params?: Record<string, unknown> } }, next: () => Promise<void>) => {
    await next();
    const params = ctx.oidc?.params;
    if (ctx.path === "/token/revocation" && typeof params?.token === "string") revocations.push({ token: params.token, hint: typeof params.token_type_hint === "string" ? params.token_type_hint : null });
  });
  handler = provider.callback();

  return {
    issuer,
    provider,
    tokenCalls: () => tokenCalls,
    deviceCalls: () => deviceCalls,
    revocations: () => [...revocations],
    failTokenEndpoint(status) {
      failWith = status;
    },
    sign: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "test-key-1", typ: "at+jwt" }).sign(privateKey),
    async revoke(token) {
      const r = await fetch(`${issuer}/token/revocation`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, client_id: CLIENT_ID }),
      });
      if (!r.ok) throw new Error(`revocation failed: ${r.status} ${await r.text()}`);
    },
    down: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
    up: () => new Promise<void>((r) => server.listen(port, "127.0.0.1", r)),
    hold: (step) =>
      new Promise((resolve) => {
        holding = { step, held: (release) => resolve({ release }) };
      }),
    setReuseGrace(sec) {
      grace = sec;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

/**
 * Plays the user's browser: follows redirects and submits each page's form (user code confirmation, dev login,
 * consent) until a page without a form. Returns the last response body and the URLs visited. With `stopAt`, a
 * redirect to a matching URL is not followed but returned (`stoppedAt`), for the test to make that request itself.
 */
export async function browse(start: string, login = "alice", stopAt?: (url: URL) => boolean): Promise<{ body: string; visited: string[]; stoppedAt?: string }> {
  const jar = new Map<string, string>();
  const visited: string[] = [];
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const keep = (r: Response) => {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === "") jar.delete(name);
      else jar.set(name, value);
    }
  };
  let url = start;
  let init: RequestInit = { method: "GET" };
  for (let step = 0; step < 30; step++) {
    visited.push(url);
    const r = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}), cookie: cookieHeader() } });
    keep(r);
    const loc = r.headers.get("location");
    if (r.status >= 300 && r.status < 400 && loc) {
      url = new URL(loc, url).href;
      if (stopAt?.(new URL(url))) return { body: "", visited, stoppedAt: url };
      init = { method: "GET" };
      continue;
    }
    const body = await r.text();
    const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(body);
    if (!form) return { body, visited };
    const action = /action="([^"]*)"/i.exec(form[1]!)?.[1] ?? url;
    const fields = new URLSearchParams();
    for (const m of form[2]!.matchAll(/<input\b([^>]*)>/gi)) {
      const attrs = m[1]!;
      const name = /name="([^"]*)"/i.exec(attrs)?.[1];
      if (!name) continue;
      let value = /value="([^"]*)"/i.exec(attrs)?.[1] ?? "";
      if (name === "login") value = login;
      if (name === "password") value = "any-password";
      fields.set(name, value.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#x27;/g, "'"));
    }
    url = new URL(action.replace(/&amp;/g, "&"), url).href;
    init = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: fields.toString() };
  }
  throw new Error(`browse: too many steps: ${visited.join(" → ")}`);
}

/** Reads a `login --pkce --no-browser` process's stderr until it prints the authorization URL; `all()` reads the rest. */
export async function authorizationUrl(stderr: ReadableStream<Uint8Array>): Promise<{ url: string; all(): Promise<string> }> {
  const reader = stderr.getReader();
  const dec = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`login exited before printing a URL: ${text}`);
    text += dec.decode(value, { stream: true });
    const url = /^\s+(http\S+)$/m.exec(text)?.[1];
    if (url)
      return {
        url,
        async all() {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return text;
            text += dec.decode(value, { stream: true });
          }
        },
      };
  }
}

/**
 * A HOME for the sign-in commands (`login`, `whoami`, `logout`) and a daemon run from source: [auth] on `p`, random
 * loopback ports, tokens in the 0600 file store, or with `keyringBus` (a test keyring's session bus) in that keyring.
 */
export function signInHome(p: TestProvider, o: { keyringBus?: string } = {}): { home: string; env: Record<string, string> } {
  const home = tempHome();
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  const secrets = o.keyringBus ? "" : `[secrets]\nbackend = "file"\n`;
  writeFileSync(
    join(home, ".config/cloudtolocalllm/tunnel.toml"),
    `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${secrets}[auth]\nissuer = "${p.issuer}"\nclient_id = "${CLIENT_ID}"\naudience = "${AUDIENCE}"\nscopes = ["openid", "profile", "offline_access", "tunnel"]\n`,
  );
  return { home, env: o.keyringBus ? { ...homeEnv(home), DBUS_SESSION_BUS_ADDRESS: o.keyringBus } : homeEnv(home) };
}

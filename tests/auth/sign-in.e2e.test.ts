// End to end: a real daemon signs in against a real OpenID provider (device flow from the API), refreshes before
// expiry with refresh-token rotation, drops to login_required on a revoked token without a retry storm; the relay
// accepts the fresh access token and refuses expired and wrong-audience ones; no token leaks anywhere we can see.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { AUDIENCE, authorizationUrl, browse, CLIENT_ID, startProvider, type TestProvider } from "./oidc-provider.ts";
import { BUN, REPO, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { parseRelayConfig } from "../../src/relay/config.ts";
import { startRelay, type RelayServer } from "../../src/relay/server.ts";
import { subjectTunnelId } from "../../src/relay/auth.ts";
import type { AuthSession } from "../../src/auth/session.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

let p: TestProvider;
let d: DaemonProc;
let relay: RelayServer;
let ollama: FakeOllama;
let apiToken = "";
/** Every token value the test saw: none of them may show up in anything the daemon exposes. */
const seen = new Set<string>();

beforeAll(async () => {
  p = await startProvider({ accessTokenTtlSec: 8 });
  // The relay ships in the same binary; it trusts the provider's JWKS for agents' access tokens, found through
  // the provider's discovery document (oidc-provider serves its keys at /jwks, not /.well-known/jwks.json).
  const cfg = parseRelayConfig(`listen = "127.0.0.1:0"\n[oidc]\nissuer = "${p.issuer}"\naudience = "${AUDIENCE}"\n`);
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  relay = await startRelay(cfg.config);
  ollama = await startFakeOllama({ models: ["tiny:1b"] });
  d = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[logging]
level = "debug"
[[upstreams]]
name = "fake"
url = "${ollama.url}"
[tunnel]
enabled = true
relay_url = "${relay.url.replace(/^http/, "ws")}/agent"
# No static agent token: the tunnel uses the signed-in account's access token.
token_secret = ""
[secrets]
backend = "file"
[alerts]
notifications = false
[auth]
issuer = "${p.issuer}"
client_id = "${CLIENT_ID}"
audience = "${AUDIENCE}"
scopes = ["openid", "profile", "offline_access", "tunnel"]
refresh_before = "4s"
`,
  });
  apiToken = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
}, 30_000);

afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
  await relay?.stop();
  await ollama?.stop();
  await p?.close();
});

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${d.urls.api}${path}`, { ...init, headers: { authorization: `Bearer ${apiToken}`, ...(init.headers ?? {}) } });
const authState = async () => (await (await api("/api/v1/auth")).json()) as { state: string; subject: string | null; reason: string | null };

function storedSession(): AuthSession | null {
  try {
    const file = JSON.parse(readFileSync(join(d.home, ".local/state/cloudtolocalllm/secrets.json"), "utf8"));
    const s = file.secrets["auth-session"] ? (JSON.parse(file.secrets["auth-session"]) as AuthSession) : null;
    for (const t of [s?.accessToken, s?.refreshToken, s?.idToken]) if (t) seen.add(t);
    return s;
  } catch {
    return null;
  }
}

let first: AuthSession;
let second: AuthSession;

test("device sign-in started from the API, approved in the provider's own pages", async () => {
  expect((await authState()).state).toBe("signed_out");
  const tunnelState = async () => ((await (await api("/api/v1/status")).json()) as { tunnel: { state: string } }).tunnel.state;
  // Without a token the tunnel waits for a sign-in instead of hammering the relay.
  await until(async () => (await tunnelState()) === "auth_failed", 15_000, "the tunnel to wait for credentials");
  const anonymous = await fetch(`${d.urls.api}/api/v1/auth/login`, { method: "POST" });
  expect(anonymous.status).toBe(401);

  const r = await api("/api/v1/auth/login", { method: "POST" });
  expect(r.status).toBe(202);
  const started = (await r.json()) as { verificationUri: string; verificationUriComplete: string; userCode: string };
  expect(started.verificationUri).toBe(`${p.issuer}/device`);
  expect(started.userCode).toMatch(/\w/);

  // Until the sign-in completes the code is a credential: whoever enters it first signs the daemon (and its tunnel) in
  // with their own account. Public reads, which any user of this machine can make, say a sign-in is pending, not its code.
  const anonymousAuth = await (await fetch(`${d.urls.api}/api/v1/auth`)).text();
  const anonymousEvents = await (await fetch(`${d.urls.api}/api/v1/events`)).text();
  for (const body of [anonymousAuth, anonymousEvents]) {
    expect(body).not.toContain(started.userCode);
    expect(body).not.toContain(encodeURIComponent(started.userCode));
  }
  expect(JSON.parse(anonymousAuth)).toMatchObject({ state: "signed_out", pending: null, pendingSignIn: true });
  expect(anonymousEvents).toContain("A device sign-in is waiting");
  // The owner's reads (the token; the dashboard's session alike) show it, as `login` and the tray do.
  expect(((await (await api("/api/v1/auth")).json()) as { pending: { userCode: string } }).pending.userCode).toBe(started.userCode);
  expect(await (await api("/api/v1/events")).text()).toContain(started.userCode);

  // The user opens the page, confirms the code, signs in and consents.
  const page = await browse(started.verificationUriComplete, "alice");
  expect(page.body).toContain("Sign-in Success");

  const state = await until(
    async () => {
      const s = await authState();
      return s.state === "signed_in" ? s : null;
    },
    15_000,
    "signed_in",
  );
  expect(state.subject).toBe("alice");
  first = storedSession()!;
  expect(first.refreshToken).toBeTruthy();
  const claims = decodeJwt(first.accessToken);
  expect(claims.aud).toBe(AUDIENCE);
  expect(claims.sub).toBe("alice");

  // The new token reaches the tunnel at once: it connects to the relay, which maps the subject to its tunnel.
  await until(async () => (await tunnelState()) === "connected", 15_000, "the tunnel to connect with the access token");
  expect(relay.tunnels().map((t) => t.id)).toContain(subjectTunnelId(p.issuer, "alice"));
}, 30_000);

test("the access token is refreshed before it expires, and the refresh token rotates", async () => {
  const exp1 = decodeJwt(first.accessToken).exp!;
  second = await until(
    () => {
      const s = storedSession();
      return s && s.accessToken !== first.accessToken ? s : null;
    },
    15_000,
    "a refreshed session",
  );
  // Issued while the first one was still valid: refreshed ahead of expiry, not after a failure.
  expect(decodeJwt(second.accessToken).iat!).toBeLessThan(exp1);
  expect(second.refreshToken).not.toBe(first.refreshToken);
  // The provider has consumed the old refresh token: presenting it again would be refused (and revoke the grant).
  const old = await p.provider.RefreshToken.find(first.refreshToken!);
  expect(old?.consumed).toBeTruthy();

  const events = (await (await api("/api/v1/events")).json()) as { type: string; data: any }[];
  const steps = events.filter((e) => e.type === "auth.progress").map((e) => e.data.step);
  expect(steps).toContain("device_code");
  expect(steps).toContain("signed_in");
  expect(steps).toContain("refreshed");
  expect(events.some((e) => e.type === "auth.state" && e.data.state === "signed_in" && e.data.subject === "alice")).toBe(true);
}, 20_000);

test("the relay accepts the fresh access token and refuses an expired one and a wrong audience", async () => {
  {
    const agentUrl = `${relay.url}/agent`;
    // Accepted: a cloud client presenting the user's fresh access token reaches the local model through the tunnel.
    const fresh = storedSession()!;
    const tags = await fetch(`${relay.url}/t/${subjectTunnelId(p.issuer, "alice")}/api/tags`, { headers: { authorization: `Bearer ${fresh.accessToken}` } });
    expect(tags.status).toBe(200);
    expect(((await tags.json()) as { models: { name: string }[] }).models.map((m) => m.name)).toContain("tiny:1b");

    const refused = async (token: string) => {
      const r = await fetch(agentUrl, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: await r.text() };
    };
    // The first access token is past its exp by now or soon (8 s lifetime).
    await until(() => Date.now() / 1000 > decodeJwt(first.accessToken).exp! + 1, 10_000, "the first access token to expire");
    const expired = await refused(first.accessToken);
    expect(expired.status).toBe(401);
    expect(expired.body).toContain("ERR_JWT_EXPIRED");

    const now = Math.floor(Date.now() / 1000);
    const wrongAud = await p.sign({ iss: p.issuer, sub: "alice", aud: "https://someone-else.invalid", iat: now, exp: now + 60, client_id: CLIENT_ID });
    const wrong = await refused(wrongAud);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain("ERR_JWT_CLAIM_VALIDATION_FAILED");
  }
}, 20_000);

test("a revoked refresh token leads to login_required once, with no retry storm", async () => {
  const current = storedSession()!;
  const before = p.tokenCalls();
  await p.revoke(current.refreshToken!);
  const state = await until(
    async () => {
      const s = await authState();
      return s.state === "login_required" ? s : null;
    },
    15_000,
    "login_required",
  );
  expect(state.reason).toContain("invalid_grant");
  const atLoginRequired = p.tokenCalls();
  // One refresh attempt (two if a scheduled refresh raced the revocation), then nothing.
  expect(atLoginRequired - before).toBeGreaterThanOrEqual(1);
  expect(atLoginRequired - before).toBeLessThanOrEqual(2);
  await Bun.sleep(5000); // longer than the refresh interval (4 s) and the first retry delay (2 s)
  expect(p.tokenCalls()).toBe(atLoginRequired);
  expect(storedSession()).toBeNull();

  const events = (await (await api("/api/v1/events")).json()) as { type: string; data: any }[];
  const required = events.filter((e) => e.type === "auth.state" && e.data.state === "login_required");
  expect(required.length).toBe(1);
  // The alerts component turns it into the "login required" alert (shown by the tray and as a notification).
  const status = (await (await api("/api/v1/status")).json()) as { alerts: { rule: string; message: string }[]; auth: { state: string } };
  expect(status.auth.state).toBe("login_required");
  const alert = status.alerts.find((a) => a.rule === "login_required");
  expect(alert?.message).toContain("Sign-in required");
  expect(alert?.message).toContain("invalid_grant");
  expect(d.stderr()).toContain("auth: sign-in required");
}, 30_000);

test("signing in again on the command line brings the daemon back to signed_in and clears the alert", async () => {
  const cmd = (...args: string[]) => [BUN, join(REPO, "src/main.ts"), ...args, "--url", d.urls.api!];
  const cli = Bun.spawn(cmd("login", "--pkce", "--no-browser"), { env: d.env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url, all } = await authorizationUrl(cli.stderr);
  await browse(url, "alice");
  expect(await cli.exited).toBe(0);
  const err = await all();
  // `login` told the daemon (POST /api/v1/auth/reload), which now uses the new session.
  expect(err).toContain("The running daemon now uses this sign-in.");
  storedSession();
  expect((await authState()).state).toBe("signed_in");
  const status = (await (await api("/api/v1/status")).json()) as { alerts: { rule: string }[] };
  expect(status.alerts.some((a) => a.rule === "login_required")).toBe(false);

  const who = Bun.spawn(cmd("whoami"), { env: d.env, stdout: "pipe", stderr: "pipe" });
  expect(await who.exited).toBe(0);
  expect(await new Response(who.stdout).text()).toContain("Signed in as Test alice (alice)");
}, 20_000);

test("no token appears in logs, status, events, the config export or the process arguments", async () => {
  expect(seen.size).toBeGreaterThanOrEqual(6);
  const captured = [
    d.stderr(),
    await (await api("/api/v1/status")).text(),
    await (await api("/api/v1/events")).text(),
    await (await api("/api/v1/auth")).text(),
    await (await api("/api/v1/config/export")).text(),
    readFileSync(`/proc/${d.proc.pid}/cmdline`, "utf8"),
    readFileSync(`/proc/${d.proc.pid}/environ`, "utf8"),
  ].join("\n");
  expect(captured).toContain("auth: access token refreshed"); // the log really covers the refreshes
  for (const t of seen) expect(captured.includes(t)).toBe(false);
});

// A sign-in over a stored one (`login` again, or the daemon's device sign-in while signed in): the replaced grant is revoked at the issuer once the new one is stored, and a daemon on the old one moves to the new.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { authorizationUrl, browse, signInHome, startProvider, type TestProvider } from "./oidc-provider.ts";
import { apiToken, BUN, removeHome, REPO, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let p: TestProvider;
let home: string;
let env: Record<string, string>;
let d: DaemonProc;
let token: string;

beforeAll(async () => {
  // 6 s access tokens: the daemon refreshes every few seconds, so a revoked grant it still holds shows at once.
  p = await startProvider({ accessTokenTtlSec: 6 });
  ({ home, env } = signInHome(p));
}, 30_000);
afterAll(async () => {
  await d?.stop().catch(() => {});
  await p?.close();
  if (home) removeHome(home);
}, 30_000);

type Stored = { refreshToken: string; subject: string };
const stored = (): Stored | null => {
  const file = join(home, ".local/state/cloudtolocalllm/secrets.json");
  if (!existsSync(file)) return null;
  const f = JSON.parse(readFileSync(file, "utf8"));
  return f.secrets["auth-session"] ? JSON.parse(f.secrets["auth-session"]) : null;
};
const api = (path: string, init: RequestInit = {}) => fetch(`${d.urls.api}${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });
const authState = async () => (await (await api("/api/v1/auth")).json()) as { state: string; subject: string | null };

/** `login --pkce` as `user`; extra arguments after it (e.g. --url to a daemon that is not there). */
async function login(user: string, ...extra: string[]): Promise<string> {
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser", ...extra], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url, all } = await authorizationUrl(proc.stderr);
  await browse(url, user);
  const code = await proc.exited;
  const err = await all();
  expect({ code, err }).toMatchObject({ code: 0 });
  expect(stored()?.subject).toBe(user);
  return err;
}

const live = async (refreshToken: string) => !!(await p.provider.RefreshToken.find(refreshToken));

test("login over a stored sign-in, the daemon on it not told: the replaced grant is revoked, and the daemon, refused at its next refresh, takes the new sign-in instead of deleting it", async () => {
  await login("bob");
  d = await startDaemon({ home, env: {} });
  try {
  token = await apiToken(d);
  await until(async () => (await authState()).subject === "bob", 15_000, "the daemon signed in as bob");
  await d.waitFor(/access token refreshed/, 20_000);
  // What the daemon stored last (rotation): the grant the new login replaces.
  const bob = stored()!.refreshToken;
  expect(await live(bob)).toBe(true);
  const before = p.revocations().length;

  // --url to a port nothing listens on: the daemon does not hear of this login, and keeps refreshing bob's grant.
  await login("alice", "--url", "http://127.0.0.1:9");
  const alice = stored()!.refreshToken;
  // Before: bob's grant stayed live at the issuer with nothing holding it once the daemon moved on.
  expect(p.revocations().slice(before).map((r) => r.token)).toContain(bob);
  expect(await live(bob)).toBe(false);
  expect(await live(alice)).toBe(true);

  // The daemon's next refresh of bob's grant is refused: it takes the stored sign-in (alice), not login_required with
  // the store deleted (which would sign out the login just made).
  await until(async () => (await authState()).subject === "alice", 20_000, `the daemon on alice's sign-in (log: ${d.stderr()})`);
  expect((await authState()).state).toBe("signed_in");
  expect(stored()?.subject).toBe("alice");
  expect(d.stderr()).not.toContain("sign-in required");
  } finally {
    await d.stop();
  }
}, 90_000);

test("the daemon's device sign-in while signed in: the grant it replaces is revoked once the new one is stored", async () => {
  // Signed in as alice (the test before, or here when run alone).
  if (stored()?.subject !== "alice") await login("alice");
  d = await startDaemon({ home, env: {} });
  token = await apiToken(d);
  await until(async () => (await authState()).state === "signed_in", 15_000, "the daemon signed in from the store");
  const r = await api("/api/v1/auth/login", { method: "POST" });
  expect(r.status).toBe(202);
  const started = (await r.json()) as { verificationUriComplete: string };
  // Taken now: the daemon may rotate it meanwhile (6 s tokens); then the rotated one is the one replaced.
  const alice = stored()!.refreshToken;
  const before = p.revocations().length;
  const page = await browse(started.verificationUriComplete, "carol");
  expect(page.body).toContain("Sign-in Success");
  await until(async () => (await authState()).subject === "carol", 15_000, "signed in as carol");
  await until(() => stored()?.subject === "carol", 10_000, "carol's sign-in stored");
  const carol = stored()!.refreshToken;
  // Before: nothing revoked; alice's grant stayed live at the issuer, and nothing held it any more.
  const revoked = await until(async () => {
    const added = p.revocations().slice(before);
    return added.length > 0 ? added : null;
  }, 10_000, "a revocation");
  expect(revoked.map((x) => x.hint)).toEqual(["refresh_token"]);
  expect(revoked[0]!.token).not.toBe(carol);
  expect(await live(revoked[0]!.token)).toBe(false);
  // The whole replaced grant is gone, whichever of its rotated tokens was current.
  expect(await live(alice)).toBe(false);
  expect(await live(carol)).toBe(true);
  expect(d.stderr()).not.toContain(revoked[0]!.token);
  await d.stop();
  // The new one was stored: nothing more to revoke at the stop.
  expect(p.revocations().slice(before)).toHaveLength(1);
}, 90_000);

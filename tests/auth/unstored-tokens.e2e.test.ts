// A daemon whose refreshed tokens a locked keyring would not take: it keeps signing in for this run, and at its stop stores them if it now can, else revokes the refresh token only it held (RFC 7009).
import { expect } from "bun:test";
import { join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { startKeyring, type Keyring } from "../secrets/keyring.ts";
import { browse, authorizationUrl, signInHome, startProvider, type TestProvider } from "./oidc-provider.ts";
import { apiToken, BUN, removeHome, REPO, startDaemon } from "../helpers/daemon.ts";
import { APPLICATION } from "../../src/secrets/secret-service-store.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "gnome-keyring-daemon", "secret-tool", "gdbus"]);

let kr: Keyring;
let p: TestProvider;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  kr = await startKeyring();
  // 6 s access tokens: the daemon refreshes after half their life, with the rotated refresh token to store each time.
  p = await startProvider({ accessTokenTtlSec: 6 });
  ({ home, env } = signInHome(p, { keyringBus: kr.address }));
}, 30_000);
afterAll(async () => {
  await p?.close();
  await kr?.stop();
  if (home) removeHome(home);
});

const storedSession = () =>
  Bun.spawnSync(["secret-tool", "lookup", "application", APPLICATION, "name", "auth-session"], { env: kr.env, stdout: "pipe", stderr: "pipe" }).stdout.toString();
const lock = () =>
  expect(
    Bun.spawnSync(
      ["gdbus", "call", "--session", "-d", "org.freedesktop.secrets", "-o", "/org/freedesktop/secrets", "-m", "org.freedesktop.Secret.Service.Lock", "['/org/freedesktop/secrets/collection/login']"],
      { env: kr.env },
    ).exitCode,
  ).toBe(0);

async function login(): Promise<void> {
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url } = await authorizationUrl(proc.stderr);
  await browse(url, "dana");
  expect(await proc.exited).toBe(0);
  expect(storedSession()).toContain("refreshToken");
}

/** A signed-in daemon, the keyring locked under it, and its first refresh made and not stored: the rotated token only it holds. */
async function refreshedUnstored() {
  await login();
  const d = await startDaemon({ home, env: { DBUS_SESSION_BUS_ADDRESS: kr.address } });
  const token = await apiToken(d);
  const auth = () => fetch(`${d.urls.api}/api/v1/auth`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ state: string }>);
  await until(async () => (await auth()).state === "signed_in", 10_000, "the daemon signed in from the keyring");
  const stored = JSON.parse(storedSession()).refreshToken as string;
  lock();
  await d.waitFor(/could not store the refreshed tokens/, 20_000);
  // It still works for this run (the tokens are in memory).
  expect((await auth()).state).toBe("signed_in");
  return { d, stored };
}

test("the keyring still locked at the daemon's stop: the refresh token only it held is revoked at the issuer", async () => {
  const { d, stored } = await refreshedUnstored();
  const before = p.revocations().length;
  try {
    await d.stop();
  } finally {
    await kr.restartService();
  }
  // The keyring holds the session the refresh replaced (its refresh token spent by the rotation).
  expect(JSON.parse(storedSession()).refreshToken).toBe(stored);
  // Before: nothing revoked; the rotated refresh token stayed live at the issuer with nothing holding it.
  const added = p.revocations().slice(before);
  expect(added).toHaveLength(1);
  expect(added[0]!.hint).toBe("refresh_token");
  expect(added[0]!.token).not.toBe(stored);
  expect(await p.provider.RefreshToken.find(added[0]!.token)).toBeFalsy();
  expect(d.stderr()).toContain("revoked a refresh token that nothing keeps");
  expect(d.stderr()).not.toContain(added[0]!.token);
}, 60_000);

test("the keyring unlocked again before the daemon's stop: the refreshed tokens are stored then, nothing revoked", async () => {
  const { d, stored } = await refreshedUnstored();
  const before = p.revocations().length;
  await kr.restartService();
  await d.stop();
  const now = JSON.parse(storedSession()).refreshToken as string;
  expect(now).not.toBe(stored);
  expect(p.revocations().slice(before)).toEqual([]);
  expect(await p.provider.RefreshToken.find(now)).toBeTruthy();
}, 60_000);

test("stopped while a refresh's answer is on its way and the keyring locked: the rotated refresh token it cannot store is revoked", async () => {
  await login();
  const d = await startDaemon({ home, env: { DBUS_SESSION_BUS_ADDRESS: kr.address } });
  const stored = JSON.parse(storedSession()).refreshToken as string;
  // The issuer answered the refresh (the stored token is spent); the answer waits here while the daemon is told to stop.
  const held = await p.hold("response");
  lock();
  const before = p.revocations().length;
  try {
    d.proc.kill("SIGTERM");
    await d.waitFor(/: stopping\b/, 10_000);
    held.release();
    await d.proc.exited;
  } finally {
    await kr.restartService();
  }
  expect(JSON.parse(storedSession()).refreshToken).toBe(stored);
  const added = p.revocations().slice(before);
  expect(added.map((r) => r.hint)).toEqual(["refresh_token"]);
  expect(added[0]!.token).not.toBe(stored);
  expect(d.stderr()).toContain("could not store the refreshed tokens while stopping");
}, 60_000);

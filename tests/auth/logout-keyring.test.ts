// Sign-in and sign-out with the tokens in a real gnome-keyring-daemon: a locked keyring (`login`, `whoami`, `logout` and the daemon say so), and a copy left in the fallback file.
import { expect } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
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
  p = await startProvider({ accessTokenTtlSec: 600 });
  // [secrets] backend left at auto: the keyring answers, so the tokens go there.
  ({ home, env } = signInHome(p, { keyringBus: kr.address }));
}, 30_000);
afterAll(async () => {
  await p?.close();
  await kr?.stop();
  if (home) removeHome(home);
});

async function run(args: string[]) {
  const r = Bun.spawn([BUN, join(REPO, "src/main.ts"), ...args], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
  return { code, out, err };
}
const storedSession = () =>
  Bun.spawnSync(["secret-tool", "lookup", "application", APPLICATION, "name", "auth-session"], { env: kr.env, stdout: "pipe", stderr: "pipe" }).stdout.toString();
const lock = () =>
  expect(
    Bun.spawnSync(
      ["gdbus", "call", "--session", "-d", "org.freedesktop.secrets", "-o", "/org/freedesktop/secrets", "-m", "org.freedesktop.Secret.Service.Lock", "['/org/freedesktop/secrets/collection/login']"],
      { env: kr.env },
    ).exitCode,
  ).toBe(0);

async function login(inKeyring = true): Promise<void> {
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url } = await authorizationUrl(proc.stderr);
  await browse(url, "carol");
  expect(await proc.exited).toBe(0);
  if (inKeyring) expect(storedSession()).toContain("refreshToken");
}

test("keyring locked: whoami says it cannot tell (not 'not signed in'), logout fails saying the tokens are still stored; unlocked, logout deletes them", async () => {
  await login();
  lock();

  const who = await run(["whoami"]);
  expect(who.code).toBe(1);
  expect(who.out).toContain("The desktop keyring is locked");
  expect(who.out).not.toContain("Not signed in");

  const out = await run(["logout"]);
  expect(out.out).not.toContain("nothing to do");
  expect(out.err).toContain("could not be deleted from the secret store, so you are still signed in: The desktop keyring is locked");
  expect(out.code).toBe(1);

  // Unlocked again (gnome-keyring-daemon --unlock, as a desktop login does): the tokens were there all along.
  await kr.restartService();
  expect(storedSession()).toContain("refreshToken");
  const again = await run(["logout"]);
  expect(again.out).toContain("Signed out Test carol");
  expect(again.code).toBe(0);
  expect(storedSession()).toBe("");
}, 60_000);

test("keyring locked under a signed-in daemon: POST /api/v1/auth/logout answers 503 with the locked keyring's sentence, not a success that a restart would undo", async () => {
  await login();
  const d = await startDaemon({ home, env: { DBUS_SESSION_BUS_ADDRESS: kr.address } });
  try {
    const token = await apiToken(d);
    const auth = () => fetch(`${d.urls.api}/api/v1/auth`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ state: string }>);
    await until(async () => (await auth()).state === "signed_in", 10_000, "the daemon signed in from the keyring");
    lock();
    const r = await fetch(`${d.urls.api}/api/v1/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect({ status: r.status, code: body.error.code }).toEqual({ status: 503, code: "unavailable" });
    expect(body.error.message).toContain("The desktop keyring is locked");
    // The daemon itself stopped using the session at once, as the docs promise.
    expect((await auth()).state).toBe("signed_out");
  } finally {
    await d.stop();
  }
  await kr.restartService();
  expect(storedSession()).toContain("refreshToken");
  expect((await run(["logout"])).code).toBe(0);
}, 60_000);

test("a copy of the tokens left in the fallback file (a login without a keyring) is deleted by logout once the keyring is back", async () => {
  // Signed in while no keyring answered (an ssh session, the keyring daemon not running): the tokens went to the 0600 file.
  const bus = env.DBUS_SESSION_BUS_ADDRESS;
  env.DBUS_SESSION_BUS_ADDRESS = "unix:path=/nonexistent/c2l-no-bus";
  try {
    await login(false);
  } finally {
    env.DBUS_SESSION_BUS_ADDRESS = bus!;
  }
  const file = join(home, ".local/state/cloudtolocalllm/secrets.json");
  const fileSession = () => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")).secrets?.["auth-session"] ?? null) : null);
  expect(fileSession()).toContain("refreshToken");
  const fileToken = JSON.parse(fileSession()).refreshToken as string;
  // Signed in again with the keyring back: the keyring holds the current session, the file the old one.
  await login();
  const keyringToken = JSON.parse(storedSession()).refreshToken as string;
  const out = await run(["logout"]);
  expect(out.code).toBe(0);
  expect(out.out).toContain("Signed out Test carol");
  expect(storedSession()).toBe("");
  expect(fileSession()).toBeNull();
  // Both refresh tokens are revoked at the issuer. Before: the file's copy was deleted and still honoured by the issuer.
  const revoked = p.revocations().map((r) => r.token);
  expect(revoked).toContain(keyringToken);
  expect(revoked).toContain(fileToken);
  expect(await p.provider.RefreshToken.find(fileToken)).toBeFalsy();
}, 60_000);

test("keyring locked during a login (after its check): the tokens it could not store are revoked at the issuer, and it says nothing was signed in", async () => {
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url, all } = await authorizationUrl(proc.stderr);
  const before = p.revocations().length;
  lock();
  try {
    await browse(url, "carol");
    expect(await proc.exited).toBe(1);
    const err = await all();
    expect(err).toContain("nothing was signed in: the tokens could not be stored: The desktop keyring is locked");
    expect(err).toContain("the sign-in was revoked at the issuer");
    // Before: "signed in, but the tokens could not be stored", and a live refresh token that nothing held.
    const added = p.revocations().slice(before);
    expect(added).toHaveLength(1);
    expect(added[0]!.hint).toBe("refresh_token");
    expect(await p.provider.RefreshToken.find(added[0]!.token)).toBeFalsy();
    for (const t of added) expect(err).not.toContain(t.token);
  } finally {
    await kr.restartService();
  }
  expect(storedSession()).toBe("");
}, 60_000);

test("keyring locked: login refuses before the issuer is asked (no grant made that nothing could store)", async () => {
  lock();
  try {
    const before = p.tokenCalls();
    const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--device", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    let err = "";
    void (async () => {
      for await (const c of proc.stderr) err += new TextDecoder().decode(c);
    })();
    // Either it ends, or it shows a code to enter (the old behaviour: a sign-in whose tokens could not be kept).
    await until(() => proc.exitCode !== null || err.includes("enter the code"), 20_000, "login to end or show a code");
    if (proc.exitCode === null) proc.kill();
    expect(await proc.exited).toBe(1);
    expect(err).toContain("nothing was signed in: the tokens could not be stored: The desktop keyring is locked");
    expect(err).not.toContain("enter the code");
    expect(p.tokenCalls()).toBe(before);
  } finally {
    await kr.restartService();
  }
}, 60_000);

test("a login over a stored sign-in whose store fails after the grant: only the new grant is revoked, the old one stays stored and live", async () => {
  await login();
  const old = JSON.parse(storedSession()).refreshToken as string;
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url, all } = await authorizationUrl(proc.stderr);
  const before = p.revocations().length;
  lock();
  try {
    await browse(url, "dave");
    expect(await proc.exited).toBe(1);
    expect(await all()).toContain("nothing was signed in: the tokens could not be stored");
  } finally {
    await kr.restartService();
  }
  // The replaced grant is revoked only once the new one is stored: here it never was, so the old sign-in is kept.
  const added = p.revocations().slice(before).map((r) => r.token);
  expect(added).toHaveLength(1);
  expect(added).not.toContain(old);
  expect(JSON.parse(storedSession()).refreshToken).toBe(old);
  expect(await p.provider.RefreshToken.find(old)).toBeTruthy();
  expect((await run(["logout"])).code).toBe(0);
}, 60_000);

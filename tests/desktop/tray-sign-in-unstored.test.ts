// A device sign-in through the daemon whose tokens the keyring refuses at the very end (locked during the approval): the API, `status`, `whoami`, the tray's tooltip and a notification say it holds for this run only and what to do; the replaced sign-in is kept until the new one is stored, and the new one is stored or revoked.
import { expect } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import { requireTools } from "../helpers/requires.ts";
import { apiToken, BUN, removeHome, REPO, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { AUDIENCE, browse, CLIENT_ID, startProvider, type TestProvider } from "../auth/oidc-provider.ts";
import { startKeyring, type Keyring } from "../secrets/keyring.ts";
import { APPLICATION } from "../../src/secrets/secret-service-store.ts";
import { startNotifications, startWatcher, until } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "gnome-keyring-daemon", "secret-tool", "gdbus", "notify-send"]);

let kr: Keyring;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let notifications: Awaited<ReturnType<typeof startNotifications>>;
let p: TestProvider;
let client: dbus.MessageBus;
let home: string;
const daemons: DaemonProc[] = [];

beforeAll(async () => {
  kr = await startKeyring();
  watcher = await startWatcher(kr.address);
  notifications = await startNotifications(kr.address);
  p = await startProvider({ accessTokenTtlSec: 600 });
  home = tempHome();
  mkdirSync(join(home, "bin"));
  client = dbus.sessionBus({ busAddress: kr.address });
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  for (const d of daemons) await d.stop();
  watcher?.stop();
  notifications?.stop();
  await p?.close();
  await kr?.stop();
  if (home) removeHome(home);
}, 30_000);

const lock = () =>
  expect(
    Bun.spawnSync(
      ["gdbus", "call", "--session", "-d", "org.freedesktop.secrets", "-o", "/org/freedesktop/secrets", "-m", "org.freedesktop.Secret.Service.Lock", "['/org/freedesktop/secrets/collection/login']"],
      { env: kr.env },
    ).exitCode,
  ).toBe(0);
const storedSession = (): { refreshToken: string; subject: string } | null => {
  const out = Bun.spawnSync(["secret-tool", "lookup", "application", APPLICATION, "name", "auth-session"], { env: kr.env, stdout: "pipe", stderr: "pipe" }).stdout.toString();
  return out ? JSON.parse(out) : null;
};
const live = async (refreshToken: string) => !!(await p.provider.RefreshToken.find(refreshToken));

type Auth = { state: string; subject: string | null; unstored?: string | null };

/** A daemon (keyring as its store, its tray on the private bus) signed in as bob through its own device sign-in. */
async function signedInDaemon() {
  // [secrets] backend left at auto: the keyring answers (unlocked) when the daemon starts, so it is the store.
  const d = await startDaemon({
    home,
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[alerts]\nnotifications = true\n[auth]\nissuer = "${p.issuer}"\nclient_id = "${CLIENT_ID}"\naudience = "${AUDIENCE}"\nscopes = ["openid", "profile", "offline_access", "tunnel"]\n`,
    env: { DBUS_SESSION_BUS_ADDRESS: kr.address },
    waitFor: ["api"],
  });
  daemons.push(d);
  const token = await apiToken(d);
  const api = (path: string, init: RequestInit = {}) => fetch(`${d.urls.api}${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });
  const auth = async () => (await (await api("/api/v1/auth")).json()) as Auth;
  /** The daemon's device sign-in, approved as `user` in the issuer's pages; `meanwhile` runs between its start and the approval. */
  const signIn = async (user: string, meanwhile = () => {}) => {
    const r = await api("/api/v1/auth/login", { method: "POST" });
    expect(r.status).toBe(202);
    const started = (await r.json()) as { verificationUriComplete: string };
    meanwhile();
    expect((await browse(started.verificationUriComplete, user)).body).toContain("Sign-in Success");
    await until(async () => (await auth()).subject === user, 15_000, `signed in as ${user} (daemon: ${d.stderr()})`);
  };
  if ((await auth()).subject !== "bob") await signIn("bob");
  expect(storedSession()?.subject).toBe("bob");
  const item = await until(() => watcher.stub.items.at(-1), 15_000, `the tray's registration (daemon: ${d.stderr()})`);
  const tooltip = async () => {
    const props = (await client.getProxyObject(item, "/StatusNotifierItem")).getInterface("org.freedesktop.DBus.Properties");
    const t = ((await props.Get!("org.kde.StatusNotifierItem", "ToolTip")) as { value: [string, unknown, string, string] }).value;
    return `${t[2]}\n${t[3]}`;
  };
  const cli = async (...args: string[]) => {
    const r = Bun.spawn([BUN, join(REPO, "src/main.ts"), ...args], { env: d.env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [out, err, code] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
    return { out, err, code };
  };
  return { d, auth, signIn, tooltip, cli };
}

const FOR_THIS_RUN = "for this run only: the tokens could not be stored (The desktop keyring is locked: unlock it";

test("keyring locked during the approval of a sign-in over bob's: API, status, whoami, tooltip and a notification say it holds for this run only; still locked at the stop, the new grant is revoked and bob's kept", async () => {
  const { d, auth, signIn, tooltip, cli } = await signedInDaemon();
  const bob = storedSession()!.refreshToken;
  const before = p.revocations().length;
  const seen = notifications.stub.received.length;
  try {
    // The check at the sign-in's start passes; the keyring locks while the user approves in the browser.
    await signIn("alice", lock);

    // Before: signed_in as alice with nothing said but a log line; the next start would find bob's sign-in.
    const a = await auth();
    expect(a.state).toBe("signed_in");
    expect(a.unstored).toContain(FOR_THIS_RUN);
    expect(a.unstored).toContain("the sign-in is revoked then and you will need to sign in again");
    const shown = await until(() => notifications.stub.received.slice(seen).find((n) => n.summary === "Sign-in not stored"), 10_000, `the notification (daemon: ${d.stderr()})`);
    expect(shown.body).toContain(`Signed in ${FOR_THIS_RUN}`);
    await until(async () => (await tooltip()).includes(`Sign-in: signed in ${FOR_THIS_RUN}`), 10_000, "the tooltip's sign-in line");
    const status = await cli("status");
    // `status` wraps its lines to the terminal's width.
    expect(status.out.replace(/\s+/g, " ")).toContain(`signed in ${FOR_THIS_RUN}`);
    const whoami = await cli("whoami");
    expect(whoami.code).toBe(0);
    expect(whoami.out).toContain("Signed in as Test alice (alice)");
    expect(whoami.out).toContain(`Signed in ${FOR_THIS_RUN}`);

    // Bob's sign-in is what the store still holds: not revoked while the new one is not stored.
    expect(p.revocations().slice(before)).toEqual([]);
    expect(await live(bob)).toBe(true);
    await d.stop();
  } finally {
    await d.stop();
    await kr.restartService();
  }
  // Still locked at the stop: alice's refresh token, held by nothing after it, is revoked; bob's stays, stored and live.
  const added = p.revocations().slice(before);
  expect(added.map((r) => r.hint)).toEqual(["refresh_token"]);
  expect(added[0]!.token).not.toBe(bob);
  expect(await live(added[0]!.token)).toBe(false);
  expect(storedSession()?.refreshToken).toBe(bob);
  expect(await live(bob)).toBe(true);
  expect(d.stderr()).toContain("revoked a refresh token that nothing keeps");
}, 120_000);

test("keyring unlocked again while the daemon runs: the new sign-in is stored within seconds, the one it replaced revoked then, the warning cleared", async () => {
  const { d, auth, signIn, tooltip } = await signedInDaemon();
  const bob = storedSession()!.refreshToken;
  const before = p.revocations().length;
  const seen = notifications.stub.received.length;
  try {
    await signIn("alice", lock);
    expect((await auth()).unstored).toContain(FOR_THIS_RUN);
  } finally {
    await kr.restartService();
  }
  // Before: alice's tokens stayed unstored until a refresh (minutes away) or the stop.
  await until(async () => !(await auth()).unstored, 40_000, "the sign-in stored").catch((e: Error) => {
    throw new Error(`${e.message} (daemon: ${d.stderr()})`);
  });
  expect(storedSession()?.subject).toBe("alice");
  const alice = storedSession()!.refreshToken;
  expect((await auth()).state).toBe("signed_in");
  expect(p.revocations().slice(before).map((r) => r.token)).toEqual([bob]);
  expect(await live(bob)).toBe(false);
  expect(await live(alice)).toBe(true);
  await until(() => notifications.stub.received.slice(seen).find((n) => n.summary === "Resolved: Sign-in not stored"), 10_000, "the all-clear notification");
  expect(await tooltip()).not.toContain("for this run only");
  await d.stop();
  // Stored: nothing more to revoke at the stop.
  expect(p.revocations().slice(before)).toHaveLength(1);
  expect(await live(alice)).toBe(true);
}, 120_000);

// The daemon's "Sign in…" (its own tray and POST /api/v1/auth/login) with the keyring locked since the daemon started: refused before the issuer is asked, saying to unlock it, as `login` does.
import { expect } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import { requireTools } from "../helpers/requires.ts";
import { apiToken, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { AUDIENCE, CLIENT_ID, startProvider, type TestProvider } from "../auth/oidc-provider.ts";
import { startKeyring, type Keyring } from "../secrets/keyring.ts";
import { startNotifications, startWatcher, until } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "gnome-keyring-daemon", "gdbus", "notify-send"]);

type Layout = [number, Record<string, { value: unknown }>, { value: Layout }[]];
const labels = (l: Layout, out: { id: number; label: string }[] = []) => {
  if (l[1].label) out.push({ id: l[0], label: String(l[1].label.value) });
  for (const c of l[2]) labels(c.value, out);
  return out;
};

const LOCKED = "nothing was signed in: the tokens could not be stored: The desktop keyring is locked: unlock it";

let kr: Keyring;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let notifications: Awaited<ReturnType<typeof startNotifications>>;
let p: TestProvider;
let daemon: DaemonProc;
let client: dbus.MessageBus;
let token: string;

beforeAll(async () => {
  kr = await startKeyring();
  watcher = await startWatcher(kr.address);
  notifications = await startNotifications(kr.address);
  p = await startProvider({ accessTokenTtlSec: 600 });
  const home = tempHome();
  mkdirSync(join(home, "bin"));
  // Any page the daemon opened would land here: a refused sign-in opens none.
  writeFileSync(join(home, "bin/xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$1" >> "${join(home, "opened.txt")}"\n`, { mode: 0o755 });
  // [secrets] backend left at auto: the keyring answers (unlocked) when the daemon starts, so it is the store.
  daemon = await startDaemon({
    home,
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[alerts]\nnotifications = true\n[auth]\nissuer = "${p.issuer}"\nclient_id = "${CLIENT_ID}"\naudience = "${AUDIENCE}"\nscopes = ["openid", "profile", "offline_access", "tunnel"]\n`,
    env: { DBUS_SESSION_BUS_ADDRESS: kr.address, PATH: `${join(home, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}` },
    waitFor: ["api"],
  });
  token = await apiToken(daemon);
  client = dbus.sessionBus({ busAddress: kr.address });
  await until(() => watcher.stub.items.length > 0, 15_000, `registration (daemon: ${daemon.stderr()})`);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  watcher?.stop();
  notifications?.stop();
  await daemon?.stop();
  await p?.close();
  await kr?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

const lock = () =>
  expect(
    Bun.spawnSync(
      ["gdbus", "call", "--session", "-d", "org.freedesktop.secrets", "-o", "/org/freedesktop/secrets", "-m", "org.freedesktop.Secret.Service.Lock", "['/org/freedesktop/secrets/collection/login']"],
      { env: kr.env },
    ).exitCode,
  ).toBe(0);
const login = () => fetch(`${daemon.urls.api}/api/v1/auth/login`, { method: "POST", headers: { authorization: `Bearer ${token}` } });

test("keyring locked after the daemon started: the API's and the tray's Sign in… refuse before the issuer is asked, saying to unlock it; unlocked, the sign-in starts", async () => {
  lock();
  const devicesBefore = p.deviceCalls();

  // Before: 202 with a code, and a sign-in that would hold for this run only (its tokens could not be stored).
  const r = await login();
  const body = (await r.json()) as { error: { code: string; message: string } };
  expect({ status: r.status, code: body.error.code }).toEqual({ status: 503, code: "unavailable" });
  expect(body.error.message).toContain(LOCKED);

  const m = (await client.getProxyObject(watcher.stub.items[0]!, "/MenuBar")).getInterface("com.canonical.dbusmenu");
  const layout = async () => labels(((await m.GetLayout!(0, -1, [])) as [number, Layout])[1]);
  const signIn = await until(async () => (await layout()).find((i) => i.label.startsWith("Sign in")), 10_000, `the Sign in item (daemon: ${daemon.stderr()})`);
  await m.Event!(signIn.id, "clicked", new dbus.Variant("s", ""), 0);
  // Said where the user looks after the click (a notification), and in the menu.
  const shown = await until(() => notifications.stub.received.find((n) => n.summary === "Sign-in not started"), 10_000, `the notification (daemon: ${daemon.stderr()})`);
  expect(shown.body).toContain(LOCKED);
  const warning = await until(async () => (await layout()).find((i) => i.label.startsWith("⚠ Sign in")), 10_000, "the menu's warning line");
  expect(warning.label).toContain(LOCKED);

  expect(p.deviceCalls()).toBe(devicesBefore);
  expect(existsSync(join(daemon.home, "opened.txt"))).toBe(false);
  const auth = (await (await fetch(`${daemon.urls.api}/api/v1/auth`, { headers: { authorization: `Bearer ${token}` } })).json()) as { state: string; pending: unknown };
  expect(auth).toMatchObject({ state: "signed_out", pending: null });

  // Unlocked again (as a desktop login does): the daemon asks the keyring anew, no restart needed.
  await kr.restartService();
  const again = await login();
  expect(again.status).toBe(202);
  expect(((await again.json()) as { userCode: string }).userCode).toBeTruthy();
  expect(p.deviceCalls()).toBe(devicesBefore + 1);
  await fetch(`${daemon.urls.api}/api/v1/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
}, 60_000);

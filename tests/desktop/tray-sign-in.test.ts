// The daemon's own tray starts a device sign-in: xdg-open gets a loopback link without the user code (argv is readable
// by every local user), another user's curl gets nothing from it, and this user's browser signs the daemon in.
import { expect } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import { requireTools } from "../helpers/requires.ts";
import { ROOT, curlAsNobody } from "../helpers/other-user.ts";
import { apiToken, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { AUDIENCE, browse, CLIENT_ID, startProvider, type TestProvider } from "../auth/oidc-provider.ts";
import { startPrivateBus, startWatcher, until, type PrivateBus } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "setpriv", "curl", ROOT]);

type Layout = [number, Record<string, { value: unknown }>, { value: Layout }[]];
const labels = (l: Layout, out: { id: number; label: string }[] = []) => {
  if (l[1].label) out.push({ id: l[0], label: String(l[1].label.value) });
  for (const c of l[2]) labels(c.value, out);
  return out;
};

let bus: PrivateBus;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let p: TestProvider;
let daemon: DaemonProc;
let client: dbus.MessageBus;

beforeAll(async () => {
  bus = await startPrivateBus();
  watcher = await startWatcher(bus.address);
  p = await startProvider({ accessTokenTtlSec: 60 });
  const home = tempHome();
  mkdirSync(join(home, "bin"));
  writeFileSync(join(home, "bin/xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$1" >> "${join(home, "opened.txt")}"\n`, { mode: 0o755 });
  daemon = await startDaemon({
    home,
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[alerts]\nnotifications = false\n[auth]\nissuer = "${p.issuer}"\nclient_id = "${CLIENT_ID}"\naudience = "${AUDIENCE}"\nscopes = ["openid", "profile", "offline_access", "tunnel"]\n`,
    env: { DBUS_SESSION_BUS_ADDRESS: bus.address, PATH: `${join(home, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}` },
    waitFor: ["api"],
  });
  client = dbus.sessionBus({ busAddress: bus.address });
  await until(() => watcher.stub.items.length > 0, 15_000, `registration (daemon: ${daemon.stderr()})`);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  watcher?.stop();
  await daemon?.stop();
  await p?.close();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

test("Sign in… opens a private loopback link; only this user's browser reaches the code, and it signs the daemon in", async () => {
  const m = (await client.getProxyObject(watcher.stub.items[0]!, "/MenuBar")).getInterface("com.canonical.dbusmenu");
  const signIn = await until(async () => {
    const [, layout] = (await m.GetLayout!(0, -1, [])) as [number, Layout];
    return labels(layout).find((i) => i.label.startsWith("Sign in"));
  }, 10_000, `the Sign in item (daemon: ${daemon.stderr()})`);
  await m.Event!(signIn.id, "clicked", new dbus.Variant("s", ""), 0);

  const openedFile = join(daemon.home, "opened.txt");
  const opened = (await until(() => existsSync(openedFile) && readFileSync(openedFile, "utf8").trim(), 10_000, `xdg-open (daemon: ${daemon.stderr()})`)).split("\n")[0]!;
  expect(opened).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[\w-]{20,}$/);
  expect(opened).not.toContain("user_code");

  const stolen = curlAsNobody(opened);
  expect(stolen.status).toBe(403);
  expect(stolen.headers).not.toContain("location");

  const mine = await fetch(opened, { redirect: "manual" });
  expect(mine.status).toBe(303);
  const complete = mine.headers.get("location")!;
  expect(new URL(complete).searchParams.get("user_code")).toBeTruthy();
  await browse(complete, "erin");
  const token = await apiToken(daemon);
  await until(
    async () => ((await (await fetch(`${daemon.urls.api}/api/v1/auth`, { headers: { authorization: `Bearer ${token}` } })).json()) as { state: string }).state === "signed_in",
    15_000,
    "the daemon to be signed in",
  );

  // Signed out another way (the API, the CLI, a revoked refresh token): the item comes back without the used code.
  await fetch(`${daemon.urls.api}/api/v1/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  const again = await until(async () => {
    const [, layout] = (await m.GetLayout!(0, -1, [])) as [number, Layout];
    return labels(layout).find((i) => i.id === signIn.id && i.label.startsWith("Sign in"));
  }, 10_000, "the Sign in item again");
  await Bun.sleep(300);
  const [, layout] = (await m.GetLayout!(0, -1, [])) as [number, Layout];
  expect(labels(layout).find((i) => i.id === again.id)!.label).toBe("Sign in…");
}, 40_000);

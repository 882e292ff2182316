// The daemon's own tray (no tray process): the same menu and tooltip cases as the `tray` command's, in-process (cases in tray-cases.ts).
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import dbus from "dbus-next";
import { until } from "./private-bus.ts";
import { startTrayFixture, stopTrayFixture, trayCases, type TrayFixture } from "./tray-cases.ts";

const guarded = requireTools(["dbus-daemon"]);

let fx: TrayFixture;
guarded.beforeAll(async () => {
  fx = await startTrayFixture("daemon");
}, 60_000);
guarded.afterAll(() => stopTrayFixture(fx), 30_000);

guarded.test("the daemon alone registers the item: one process owns it on the bus", async () => {
  expect(fx.tray).toBeNull();
  const name = `org.kde.StatusNotifierItem-${fx.daemon.proc.pid}-1`;
  expect(fx.watcher.stub.items).toEqual([name]);
  const dbusObj = (await fx.client.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus")).getInterface("org.freedesktop.DBus");
  expect(await dbusObj.GetConnectionUnixProcessID!(name)).toBe(fx.daemon.proc.pid);
});

trayCases("the daemon's own tray", guarded, () => fx);

guarded.test("its last item hides the icon (the daemon keeps serving; Start daemon never shows)", async () => {
  type Layout = [number, Record<string, { value: unknown }>, { value: Layout }[]];
  const name = fx.watcher.stub.items[0]!;
  const m = (await fx.client.getProxyObject(name, "/MenuBar")).getInterface("com.canonical.dbusmenu");
  const [, layout] = (await m.GetLayout!(0, 1, [])) as [number, Layout];
  const items = layout[2].map((c) => c.value);
  const last = items.at(-1)!;
  expect(last[1].label!.value).toBe("Hide tray icon");
  expect(items.find((i) => i[1].label?.value === "Start daemon")![1].visible!.value).toBe(false);
  await m.Event!(last[0], "clicked", new dbus.Variant("s", ""), 0);
  const d = (await fx.client.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus")).getInterface("org.freedesktop.DBus");
  await until(async () => !((await d.ListNames!()) as string[]).includes(name), 5000, "the icon to leave the bus");
  expect((await fetch(`${fx.daemon.urls.api}/healthz`)).status).toBe(200);
}, 30_000);

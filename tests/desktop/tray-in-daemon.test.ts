// The daemon's own tray (no tray process): the same menu and tooltip cases as the `tray` command's, in-process (cases in tray-cases.ts).
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
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

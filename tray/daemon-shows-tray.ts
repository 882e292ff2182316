// Whether the daemon the `tray` command follows already shows its own icon on this session bus (then the command steps aside).
import type dbus from "dbus-next";
import { itemNamePrefix } from "./sni.ts";

/**
 * The daemon's item is named org.kde.StatusNotifierItem-PID-N after its own pid; the bus confirms which process owns
 * the name, so a daemon on another machine (whose pid means nothing here) is never mistaken for a local one.
 */
export async function daemonItemOnBus(bus: dbus.MessageBus, daemonPid: number): Promise<string | null> {
  const obj = await bus.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus");
  const d = obj.getInterface("org.freedesktop.DBus");
  const prefix = itemNamePrefix(daemonPid);
  for (const name of ((await d.ListNames!()) as string[]).filter((n) => n.startsWith(prefix))) {
    try {
      if ((await d.GetConnectionUnixProcessID!(name)) === daemonPid) return name;
    } catch {
      // The name went away between the two calls.
    }
  }
  return null;
}

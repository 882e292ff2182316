// Whether the daemon the `tray` command follows already shows its own icon on this session bus (then the command steps aside).
import type { BusConnection } from "../src/desktop/dbus/connection.ts";
import { itemNamePrefix } from "./sni.ts";

/** A client that reaches the bus through proxy objects (dbus-next's MessageBus, which the tests hold as the other end). */
interface ProxyClient {
  getProxyObject(name: string, path: string): Promise<{ getInterface(name: string): { [member: string]: ((...args: any[]) => Promise<any>) | any } }>;
}

/** The bus driver's methods this check needs, from either kind of client. */
async function busDriver(bus: BusConnection | ProxyClient): Promise<(member: string, signature?: string, body?: unknown[]) => Promise<unknown>> {
  if ("callBus" in bus) return (member, signature, body) => bus.callBus(member, signature, body);
  const d = (await bus.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus")).getInterface("org.freedesktop.DBus");
  return (member, _signature, body = []) => d[member](...body);
}

/**
 * The daemon's item is named org.kde.StatusNotifierItem-PID-N after its own pid; the bus confirms which process owns
 * the name, so a daemon on another machine (whose pid means nothing here) is never mistaken for a local one.
 */
export async function daemonItemOnBus(bus: BusConnection | ProxyClient, daemonPid: number): Promise<string | null> {
  const call = await busDriver(bus);
  const prefix = itemNamePrefix(daemonPid);
  for (const name of ((await call("ListNames")) as string[]).filter((n) => n.startsWith(prefix))) {
    try {
      if ((await call("GetConnectionUnixProcessID", "s", [name])) === daemonPid) return name;
    } catch {
      // The name went away between the two calls.
    }
  }
  return null;
}

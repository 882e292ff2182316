// D-Bus session bus addresses: where the session bus is, and the form dbus-next can connect to inside the single binary.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runtimeDir } from "../config/paths.ts";

/** The session bus address: DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket; null when there is none. */
export function sessionBusAddress(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  const rt = env.XDG_RUNTIME_DIR ?? runtimeDir();
  if (rt && existsSync(join(rt, "bus"))) return `unix:path=${join(rt, "bus")}`;
  return null;
}

/**
 * dbus-next understands `unix:path=` and `unix:socket=`, but its `unix:abstract=` needs the native usocket
 * module, which the single binary leaves out: Bun's net connects to an abstract socket given "\0NAME" as its path.
 * Every dbus.sessionBus() call goes through this.
 */
export function normalizeBusAddress(address: string): string {
  return address
    .split(";")
    .map((a) => a.replace(/^unix:abstract=([^,]+)(,.*)?$/, (_m, name: string) => `unix:socket=\0${name}`))
    .join(";");
}

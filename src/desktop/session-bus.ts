// Opens the D-Bus session bus with our own client (src/desktop/dbus), from every address form a desktop hands out (path, abstract).
import { connectBus, type BusConnection } from "./dbus/connection.ts";
import { sessionBusAddress } from "./dbus-address.ts";

export const NO_SESSION_BUS =
  "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist; run it inside your desktop session (where the panel that shows the icon runs)";

/** Connects to the session bus (`address`, else the environment's) and says Hello; rejects with why it could not within `timeoutMs`. */
export async function connectSessionBus(address?: string, timeoutMs = 5000): Promise<BusConnection> {
  const a = address ?? sessionBusAddress();
  // Said with what to do: the `tray` command run over ssh or from a bare shell stopped at the cause alone.
  if (!a) throw new Error(NO_SESSION_BUS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the D-Bus session bus did not answer within ${timeoutMs} ms`)), timeoutMs)));
  const connecting = connectBus(a, timeoutMs);
  try {
    return await Promise.race([connecting, late]);
  } catch (e) {
    // A connection that completes after the deadline is closed, not leaked.
    void connecting.then((c) => c.close(), () => {});
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

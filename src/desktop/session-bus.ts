// Opens the D-Bus session bus with dbus-next, accepting every address form a desktop hands out (path, abstract, socket).
import dbus from "dbus-next";
import { normalizeBusAddress, sessionBusAddress } from "./dbus-address.ts";

export function connectSessionBus(address?: string): dbus.MessageBus {
  const a = address ?? sessionBusAddress();
  if (!a) throw new Error("no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist");
  return dbus.sessionBus({ busAddress: normalizeBusAddress(a) });
}

/** Resolves once the bus connection has said hello (dbus-next connects lazily), or rejects with why it could not. */
export function busReady(bus: dbus.MessageBus, timeoutMs = 5000): Promise<void> {
  const b = bus as unknown as { name?: string; on(e: string, f: (...a: unknown[]) => void): void; removeListener(e: string, f: (...a: unknown[]) => void): void };
  if (b.name) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => done(new Error(`the D-Bus session bus did not answer within ${timeoutMs} ms`)), timeoutMs);
    const onConnect = () => done();
    const onError = (e: unknown) => done(e instanceof Error ? e : new Error(String(e)));
    function done(err?: Error) {
      clearTimeout(t);
      b.removeListener("connect", onConnect);
      b.removeListener("error", onError);
      err ? reject(err) : resolve();
    }
    b.on("connect", onConnect);
    b.on("error", onError);
  });
}

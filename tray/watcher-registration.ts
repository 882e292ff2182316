// Registers the item with org.kde.StatusNotifierWatcher, and again whenever the watcher's owner changes (panel restart).
import type dbus from "dbus-next";
import { logger } from "../src/core/log.ts";

const log = logger("tray");

export const WATCHER_NAME = "org.kde.StatusNotifierWatcher";
export const WATCHER_PATH = "/StatusNotifierWatcher";

export interface WatcherRegistration {
  /** Resolves after the first attempt (registered, or no watcher yet). */
  ready: Promise<void>;
  /** Registrations done so far (tests wait on it). */
  count(): number;
  stop(): void;
}

export function registerWithWatcher(bus: dbus.MessageBus, itemName: string, onRegistered?: () => void): WatcherRegistration {
  let count = 0;
  let saidNoWatcher = false;
  let stopped = false;
  let dbusIface: dbus.ClientInterface | null = null;

  const register = async () => {
    if (stopped) return;
    try {
      const obj = await bus.getProxyObject(WATCHER_NAME, WATCHER_PATH);
      const watcher = obj.getInterface(WATCHER_NAME);
      await watcher.RegisterStatusNotifierItem!(itemName);
      count++;
      saidNoWatcher = false;
      log.info("registered with the StatusNotifierWatcher", { item: itemName });
      onRegistered?.();
    } catch (e) {
      const name = (e as { type?: string }).type ?? "";
      if (/ServiceUnknown|NameHasNoOwner|UnknownObject|UnknownInterface/.test(name) || /was not provided|not activatable/.test(String(e))) {
        // No panel yet: wait for NameOwnerChanged instead of retrying.
        if (!saidNoWatcher) log.info("no StatusNotifierWatcher on the session bus yet; the icon appears when a panel that hosts tray icons starts");
        saidNoWatcher = true;
      } else {
        log.warn("could not register with the StatusNotifierWatcher", { error: e as Error });
      }
    }
  };

  const onOwnerChanged = (name: string, _old: string, owner: string) => {
    if (name === WATCHER_NAME && owner) void register();
  };

  const ready = (async () => {
    const obj = await bus.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus");
    dbusIface = obj.getInterface("org.freedesktop.DBus");
    dbusIface.on("NameOwnerChanged", onOwnerChanged);
    await register();
  })();

  return {
    ready,
    count: () => count,
    stop() {
      stopped = true;
      dbusIface?.removeListener("NameOwnerChanged", onOwnerChanged);
    },
  };
}

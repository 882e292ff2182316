// Registers the item with org.kde.StatusNotifierWatcher, and again whenever the watcher's owner changes (panel restart).
import { logger } from "../src/core/log.ts";
import type { BusConnection } from "../src/desktop/dbus/connection.ts";
import { watchNameOwner } from "../src/desktop/dbus/name-owner.ts";

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

export function registerWithWatcher(bus: BusConnection, itemName: string, onRegistered?: () => void): WatcherRegistration {
  let count = 0;
  let saidNoWatcher = false;
  let stopped = false;
  let unwatch: (() => void) | null = null;

  const register = async () => {
    if (stopped) return;
    try {
      await bus.call({ destination: WATCHER_NAME, path: WATCHER_PATH, interface: WATCHER_NAME, member: "RegisterStatusNotifierItem", signature: "s", body: [itemName] });
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

  const ready = (async () => {
    // Watching starts before the first attempt, so a watcher that appears in between is not missed.
    const stop = await watchNameOwner(bus, WATCHER_NAME, (owner) => {
      if (owner) void register();
    });
    if (stopped) stop();
    else unwatch = stop;
    await register();
  })();

  return {
    ready,
    count: () => count,
    stop() {
      stopped = true;
      unwatch?.();
      unwatch = null;
    },
  };
}

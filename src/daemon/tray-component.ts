// The daemon's tray icon as a component: shown when [tray] enabled = "auto" and a session bus is there; D-Bus code loads only then.
import { existsSync } from "node:fs";
import type { ComponentFactory } from "../core/component.ts";
import { logger } from "../core/log.ts";
import { busSockets, sessionBusAddress } from "../desktop/dbus-address.ts";
import { TRAY_ENV } from "../desktop/tray-env.ts";

const log = logger("tray");

/** Why there is no session bus to show an icon on, or null when there is one to try (a path address whose socket is missing counts as none). */
export function noSessionBus(address: string | null): string | null {
  if (!address) return "no session bus (DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist)";
  const sockets = busSockets(address);
  if (!sockets.length) return `the session bus address ${address.split(",")[0]} names no unix socket`;
  const paths = sockets.filter((s) => !s.abstract).map((s) => s.path);
  if (paths.length === sockets.length && !paths.some((p) => existsSync(p))) return `the session bus socket ${paths[0]} does not exist`;
  return null;
}

export const createTrayComponent: ComponentFactory = (ctx) => {
  let tray: { busName: string; stop(): Promise<void> } | null = null;
  let starting: Promise<void> | null = null;

  const show = async () => {
    if (tray) return;
    const address = sessionBusAddress();
    const none = noSessionBus(address);
    if (none) {
      log.info(`no tray icon: ${none}`);
      return;
    }
    try {
      // The D-Bus client, the item and the menu are loaded only here: a headless daemon never pays for them.
      const { startDaemonTray } = await import("../../tray/in-daemon.ts");
      tray = await startDaemonTray(ctx, { busAddress: address! });
      log.info("tray icon on the session bus", { bus_name: tray.busName });
    } catch (e) {
      log.info(`no tray icon: the session bus did not answer (${(e as Error).message})`);
    }
  };
  const hide = async () => {
    const t = tray;
    tray = null;
    await t?.stop();
  };
  const follow = (enabled: "auto" | "never") => {
    const on = enabled === "auto" && process.env[TRAY_ENV] !== "never";
    return (starting = (starting ?? Promise.resolve()).then(() => (on ? show() : hide())));
  };

  return {
    name: "tray",
    async start() {
      await follow(ctx.config.current().tray.enabled);
    },
    async stop() {
      await starting;
      await hide();
    },
    async apply(next, prev, changed) {
      if (!changed.has("tray") || next.tray.enabled === prev.tray.enabled) return;
      await follow(next.tray.enabled);
    },
  };
};

// The daemon's own tray icon: the same item and menu as the `tray` command, fed in-process from the daemon's services and events.
import type { DaemonContext } from "../src/core/component.ts";
import { logger } from "../src/core/log.ts";
import { openInBrowser } from "../src/client/dashboard-link.ts";
import type { BusConnection } from "../src/desktop/dbus/connection.ts";
import { connectSessionBus } from "../src/desktop/session-bus.ts";
import { LocalSource } from "./local-source.ts";
import { localActions } from "./local-actions.ts";
import { newItemName } from "./sni.ts";
import { startTrayHost, type TrayHost } from "./tray-host.ts";

const log = logger("tray");

export interface DaemonTrayOptions {
  busAddress: string;
  /** Opens URLs and files; default xdg-open. */
  open?: (target: string) => Promise<void>;
  iconRoot?: string;
  /** How long the bus may take to answer before the daemon goes on without a tray. */
  connectTimeoutMs?: number;
}

export interface DaemonTray {
  busName: string;
  bus: BusConnection;
  host: TrayHost;
  /** Takes the icon off the bus and closes the connection (daemon stopping, [tray] enabled = "never"). */
  stop(): Promise<void>;
}

export async function startDaemonTray(ctx: DaemonContext, opts: DaemonTrayOptions): Promise<DaemonTray> {
  const bus = await connectSessionBus(opts.busAddress, opts.connectTimeoutMs ?? 2000);
  const busName = newItemName();
  const host = await startTrayHost({
    bus,
    busName,
    source: (onChange) => new LocalSource(ctx, onChange),
    actions: localActions(ctx),
    open: opts.open ?? ((t: string) => openInBrowser(t)),
    configFile: ctx.config.path(),
    readNotifications: () => ctx.config.current().alerts.notifications,
    notifications: ctx.config.current().alerts.notifications,
    // The broker and the tunnel live in this process: the last item only takes the icon away, until the daemon restarts.
    quitLabel: "Hide tray icon",
    iconRoot: opts.iconRoot,
    own: {
      quit: async () => {
        log.info("tray icon hidden from its menu; it comes back when the daemon restarts");
        await tray.stop();
      },
    },
  });

  // The session ended (or its bus went away): the daemon keeps serving, without an icon.
  let stopping: Promise<void> | null = null;
  const onLost = (why: string) => {
    if (stopping) return;
    log.info("lost the session bus; the daemon goes on without a tray icon", { reason: why });
    stopping = host.stop(false).then(() => bus.close());
  };
  bus.onClose(onLost);

  const tray: DaemonTray = {
    busName,
    bus,
    host,
    stop() {
      stopping ??= host.stop().then(() => bus.close());
      return stopping;
    },
  };
  return tray;
}

// The `tray` command: the tray for a daemon that runs elsewhere (a system service, another machine), following it over its control API.
import { logger, logStrayFailures } from "../src/core/log.ts";
import { ApiClient } from "../src/client/api-client.ts";
import { readClientSettings, runningDaemonSettings, tokenReader } from "../src/client/settings.ts";
import type { BusConnection } from "../src/desktop/dbus/connection.ts";
import { connectSessionBus } from "../src/desktop/session-bus.ts";
import { DaemonLink } from "./daemon-link.ts";
import type { DBusMenu } from "./dbusmenu.ts";
import { baseUrlOf } from "../src/core/listen-url.ts";
import { selfCommand } from "./self-command.ts";
import { newItemName, type StatusNotifierItem } from "./sni.ts";
import type { TrayView } from "./state.ts";
import { startUnit, unitState } from "../src/desktop/systemd-user.ts";
import { closeDaemonLog, openDaemonLog } from "../src/desktop/daemon-log.ts";
import { daemonLogFile } from "../src/config/paths.ts";
import { existsSync } from "node:fs";
import { openInBrowser } from "../src/client/dashboard-link.ts";
import type { WatcherRegistration } from "./watcher-registration.ts";
import { apiActions } from "./api-actions.ts";
import { startTrayHost } from "./tray-host.ts";
import { daemonItemOnBus } from "./daemon-shows-tray.ts";
import { TRAY_ENV } from "../src/desktop/tray-env.ts";
import { RUNTIME_ENV } from "../src/core/runtime-tuning.ts";

const log = logger("tray");

export interface TrayOptions {
  configFile: string;
  /** Session bus address; default from the environment. */
  busAddress?: string;
  /** Control API base URL; default from `[api] listen` in the config. */
  apiBase?: string;
  backoff?: { initialMs: number; maxMs: number };
  /** Opens URLs and files; default xdg-open. */
  open?: (target: string) => Promise<void>;
  /** Where the private icon theme goes when the icons are not installed; default $XDG_RUNTIME_DIR/cloudtolocalllm/icons. */
  iconRoot?: string;
}

export interface Tray {
  busName: string;
  bus: BusConnection;
  item: StatusNotifierItem;
  menu: DBusMenu;
  registration: WatcherRegistration;
  link: DaemonLink;
  view(): TrayView;
  /** Resolves when "Quit tray" was chosen or quit() called. */
  done: Promise<void>;
  /** Why the tray stopped on its own (session bus lost), or null. */
  lostReason(): string | null;
  quit(): Promise<void>;
}

/** The daemon this tray follows: its settings and the one API client (the CLI's and the dashboard's too). */
function followed(opts: TrayOptions, timeoutMs: number) {
  // Where the running daemon says it listens, as the CLI goes (not [api] listen after a refused move of it).
  const settings = opts.apiBase ? readClientSettings(opts.configFile) : runningDaemonSettings(opts.configFile);
  const apiBase = opts.apiBase ?? settings.base ?? baseUrlOf(settings.api.listen);
  // The token file is read at each call, so one made later counts.
  return { settings, client: new ApiClient({ base: apiBase, token: tokenReader(settings, apiBase), timeoutMs }) };
}

/**
 * The daemon's own item when the daemon this tray would follow already shows its icon on this bus: asked once before
 * any icon of ours exists, so a leftover autostart entry or unit steps aside without a second icon flashing in the
 * panel for the moment the first status takes. Null when it does not, or cannot be told (startTray then follows on).
 */
async function daemonsOwnIcon(opts: TrayOptions): Promise<{ pid: number; name: string } | null> {
  const status = await followed(opts, 3000).client.call("GET", "/api/v1/status").catch(() => null);
  if (!status) return null;
  const bus = await connectSessionBus(opts.busAddress).catch(() => null);
  if (!bus) return null;
  try {
    const name = await daemonItemOnBus(bus, status.daemon.pid).catch(() => null);
    return name ? { pid: status.daemon.pid, name } : null;
  } finally {
    bus.close();
  }
}

export async function startTray(opts: TrayOptions): Promise<Tray> {
  const { settings, client } = followed(opts, 15_000);

  const bus = await connectSessionBus(opts.busAddress);
  const busName = newItemName();

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let link!: DaemonLink;
  // A daemon on this desktop shows the tray itself: a second icon for it (a leftover autostart or unit) steps aside.
  let checkedRevision = -1;
  let supersededBy: string | null = null;
  const stepAsideFor = async (pid: number) => {
    const name = await daemonItemOnBus(bus, pid).catch(() => null);
    if (!name || supersededBy) return;
    supersededBy = name;
    log.info("the daemon shows its own tray icon on this desktop; this tray exits", { daemon_pid: pid, item: name });
    await tray.quit();
  };
  const host = await startTrayHost({
    bus,
    busName,
    source: (onChange) =>
      (link = new DaemonLink({
        client,
        backoff: opts.backoff,
        onChange: (s) => {
          onChange(s);
          if (!s.status || s.revision === checkedRevision) return;
          checkedRevision = s.revision;
          void stepAsideFor(s.status.daemon.pid);
        },
      })),
    actions: apiActions(client),
    open: opts.open ?? ((t: string) => openInBrowser(t)),
    configFile: opts.configFile,
    readNotifications: (status) => (status.daemon.configPath ? readClientSettings(status.daemon.configPath).notifications : settings.notifications),
    notifications: settings.notifications,
    // A daemon started earlier by a tray wrote here: named in the tooltip and the menu while it exists.
    daemonLog: existsSync(daemonLogFile()) ? daemonLogFile() : null,
    iconRoot: opts.iconRoot,
    own: {
      "daemon.start": async ({ input, source, render }) => {
        const started = startDaemon(opts.configFile);
        if (started.via === "process") {
          input.daemonLog = started.log;
          // A daemon that stops at once (a taken port, a bad config) says why in its log: point there.
          void Promise.race([started.exited, Bun.sleep(START_WATCH_MS).then(() => null)]).then((code) => {
            if (code === null) return;
            input.actionError = `Start daemon: the daemon exited (code ${code}); see ${started.log}`;
            log.warn("the daemon the tray started exited", { code, log: started.log });
            render();
          });
        }
        source.reconnectNow();
      },
      quit: () => tray.quit(),
    },
  });

  // The session bus going away means the session ended: nothing left to show the icon in.
  let lost: string | null = null;
  const onLost = (why: string) => {
    if (lost || quitting) return;
    lost = why;
    log.warn("lost the session bus; the tray exits", { reason: why });
    void tray.quit();
  };
  bus.onClose(onLost);

  let quitting: Promise<void> | null = null;
  const tray: Tray = {
    busName,
    bus,
    item: host.item,
    menu: host.menu,
    registration: host.registration,
    link,
    view: host.view,
    done,
    lostReason: () => lost,
    quit() {
      quitting ??= (async () => {
        await host.stop(!lost);
        bus.close();
        resolveDone();
      })();
      return quitting;
    },
  };
  return tray;
}

/** How long after "Start daemon" an exit of the detached daemon is reported as a failed start. */
const START_WATCH_MS = 15_000;

export type DaemonStart = { via: "systemd" } | { via: "process"; pid: number; log: string; exited: Promise<number> };

/** Starts the daemon: through the systemd user unit when there is one, else as a detached `serve` writing to daemon.log. */
export function startDaemon(configFile: string): DaemonStart {
  const unit = unitState();
  if (unit.available && unit.installed) {
    const r = startUnit();
    if (!r.ok) throw new Error(`systemctl --user start failed: ${r.error}`);
    log.info("started the daemon through systemd");
    return { via: "systemd" };
  }
  const out = openDaemonLog();
  try {
    // This tray shows the icon for the daemon it starts: the daemon is told not to show a second one. It runs with the
    // settings the unit would give it (src/core/runtime-tuning.ts), unless this environment sets them otherwise.
    const env = { ...RUNTIME_ENV, ...process.env, [TRAY_ENV]: "never" };
    const p = Bun.spawn([...selfCommand(), "serve", "--config", configFile], { env, stdin: "ignore", stdout: out.fd, stderr: out.fd, detached: true } as Parameters<typeof Bun.spawn>[1]);
    p.unref();
    log.info("started the daemon as a detached process", { pid: p.pid, log: out.file });
    return { via: "process", pid: p.pid, log: out.file, exited: p.exited };
  } finally {
    closeDaemonLog(out.fd);
  }
}

/** Runs the tray until it is told to quit (menu or signal). */
export async function runTray(opts: TrayOptions): Promise<number> {
  let tray: Tray | null = null;
  let failed = false;
  // A stray failure is one log line, as in the daemon and the relay, not Bun's stack dump (which then ends the process
  // without a word in the log); an uncaught exception quits the tray (exit 1).
  logStrayFailures(log, () => {
    failed = true;
    if (tray) void tray.quit();
    else process.exit(1);
  });
  let signals = 0;
  // Every way out says why, as the daemon's and the relay's do. A second signal, or a quit that hangs, ends the process
  // anyway. Set before the tray starts: Bun takes a handler only once back in its event loop, and a signal that came
  // right after "tray running" ended the process without a word.
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn(`second ${sig}: exiting now`);
      process.exit(1);
    }
    log.info("stopping", { reason: sig });
    if (!tray) process.exit(0);
    void tray.quit();
    setTimeout(() => {
      log.warn("the tray did not quit within 3 s; exiting anyway", { reason: sig });
      process.exit(1);
    }, 3000).unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const own = await daemonsOwnIcon(opts);
  if (own) {
    log.info("the daemon shows its own tray icon on this desktop; this tray exits", { daemon_pid: own.pid, item: own.name });
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    return 0;
  }
  tray = await startTray(opts);
  log.info("tray running", { bus_name: tray.busName });
  await tray.done;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return tray.lostReason() || failed ? 1 : 0;
}

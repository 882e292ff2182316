// The tray process: puts the item and menu on the session bus, follows the daemon and turns menu clicks into API calls.
import dbus from "dbus-next";
import { VERSION } from "../src/core/build-info.ts";
import { compatibility } from "../src/core/compat.ts";
import { logger } from "../src/core/log.ts";
import { ApiClient } from "../src/client/api-client.ts";
import { readClientSettings, tokenReader } from "../src/client/settings.ts";
import { iconsInstalled } from "../src/desktop/icons/installed.ts";
import { busReady, connectSessionBus } from "../src/desktop/session-bus.ts";
import { DaemonLink, type LinkState } from "./daemon-link.ts";
import { DBusMenu, MENU_PATH } from "./dbusmenu.ts";
import { writeNotificationsSetting } from "./notifications-setting.ts";
import { baseUrlOf } from "../src/core/listen-url.ts";
import { selfCommand } from "./self-command.ts";
import { copyToClipboard } from "./clipboard.ts";
import { createNotifier } from "../src/desktop/notify/notifier.ts";
import { ITEM_PATH, StatusNotifierItem } from "./sni.ts";
import { APPROVE_PREFIX, buildView, type MenuItem, type TrayInput, type TrayView } from "./state.ts";
import { startUnit, unitState } from "../src/desktop/systemd-user.ts";
import { closeDaemonLog, openDaemonLog } from "../src/desktop/daemon-log.ts";
import { daemonLogFile } from "../src/config/paths.ts";
import { existsSync } from "node:fs";
import { dashboardLink, openInBrowser } from "../src/client/dashboard-link.ts";
import { registerWithWatcher, type WatcherRegistration } from "./watcher-registration.ts";

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
  bus: dbus.MessageBus;
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

let instance = 0;

export async function startTray(opts: TrayOptions): Promise<Tray> {
  const settings = readClientSettings(opts.configFile);
  const apiBase = opts.apiBase ?? settings.base ?? baseUrlOf(settings.api.listen);
  // The one API client (the CLI's and the dashboard's too); the token file is read at each call, so one made later counts.
  const client = new ApiClient({ base: apiBase, token: tokenReader(settings), timeoutMs: 15_000 });
  const open = opts.open ?? ((t: string) => openInBrowser(t));

  const bus = connectSessionBus(opts.busAddress);
  await busReady(bus);
  const busName = `org.kde.StatusNotifierItem-${process.pid}-${++instance}`;

  const input: TrayInput = {
    status: null,
    linking: true,
    lastAlert: null,
    compatWarning: null,
    notifications: settings.notifications,
    actionError: null,
    trayVersion: VERSION,
    apiBase,
    // A daemon started earlier by a tray wrote here: named in the tooltip and the menu while it exists.
    daemonLog: existsSync(daemonLogFile()) ? daemonLogFile() : null,
  };
  let current = buildView(input);
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  // The dashboard needs a one-time sign-in code from the daemon; the browser trades it for a session cookie.
  const openDashboard = async () => open((await dashboardLink(client)).url);
  const item = new StatusNotifierItem({
    activate: () => void openDashboard().catch((e) => log.warn("could not open the dashboard", { error: e as Error })),
  });
  const menu = new DBusMenu((clicked) => void onAction(clicked));

  // Hosts find themed icons first; without installed ones, a private theme directory stands in.
  if (!iconsInstalled()) {
    try {
      // The renderers pull in zlib: loaded only when the icons are not installed.
      const { ensurePrivateIconTheme, privateIconRoot } = await import("../src/desktop/icons/theme.ts");
      const root = ensurePrivateIconTheme(opts.iconRoot ?? privateIconRoot());
      item.setIconThemePath(root);
      menu.setIconThemePath([root]);
    } catch (e) {
      log.warn("could not write the private icon theme; hosts will use the pixmaps", { error: e as Error });
    }
  }

  const render = () => {
    current = buildView(input);
    item.update(current);
    menu.setMenu(current.menu);
    menu.setStatus(current.status === "NeedsAttention" ? "notice" : "normal");
  };
  menu.setMenu(current.menu);
  item.update(current);

  bus.export(ITEM_PATH, item);
  bus.export(MENU_PATH, menu);
  await bus.requestName(busName, dbus.NameFlag.DO_NOT_QUEUE);

  let seenRevision = -1;
  const link = new DaemonLink({
    client,
    backoff: opts.backoff,
    onChange: (s: LinkState) => {
      input.status = s.status;
      input.linking = s.linking;
      input.lastAlert = s.lastAlert;
      input.linkProblem = s.problem;
      input.accessRequests = s.access;
      if (s.status) {
        const c = compatibility(VERSION, s.status.daemon.version);
        input.compatWarning = c.compatible ? null : `daemon ${c.message}`;
        // The setting lives in the file; it is re-read only when the whole status was (connect, config reload).
        if (s.revision !== seenRevision && s.status.daemon.configPath) input.notifications = readClientSettings(s.status.daemon.configPath).notifications;
        seenRevision = s.revision;
      }
      render();
    },
  });

  const configFile = () => input.status?.daemon.configPath || opts.configFile;

  /** The cloud URL to the clipboard; without a clipboard tool, in a notification (and the menu) for the user to copy by hand. */
  async function copyCloudUrl(): Promise<void> {
    const url = input.status?.tunnel.cloudUrl;
    if (!url) throw new Error("the relay has not named the tunnel yet");
    const tool = await copyToClipboard(url);
    if (tool) {
      log.info("copied the cloud URL", { tool });
      return;
    }
    const shown = await createNotifier().send({ title: "Cloud URL", body: `${url} (no clipboard tool: install wl-clipboard or xclip)`, urgency: "low" });
    if (!shown) throw new Error(`no clipboard tool (wl-copy, xclip) and no notifications; the URL is ${url}`);
  }

  async function onAction(clicked: MenuItem): Promise<void> {
    input.actionError = null;
    try {
      switch (clicked.action) {
        case "tunnel.start":
        case "tunnel.stop":
        case "tunnel.restart":
          await client.call("POST", `/api/v1/tunnel/${clicked.action.slice(7) as "start" | "stop" | "restart"}`);
          break;
        case "tunnel.copy-url":
          await copyCloudUrl();
          break;
        case "reconnect":
          await client.call("POST", "/api/v1/reconnect");
          break;
        case "open.dashboard":
          await openDashboard();
          break;
        case "open.docs":
          await open(apiBase + "/swagger");
          break;
        case "open.config":
          await open(configFile());
          break;
        case "auth.login": {
          // The daemon runs the device flow; the browser opens on the verification page, the label shows the code.
          const d = await client.call("POST", "/api/v1/auth/login");
          input.signInCode = d.userCode;
          const expire = setTimeout(() => {
            if (input.signInCode !== d.userCode) return;
            input.signInCode = null;
            render();
          }, Math.max(0, Date.parse(d.expiresAt) - Date.now()));
          expire.unref?.();
          await open(d.verificationUriComplete ?? d.verificationUri);
          break;
        }
        case "dashboard.approve": {
          const code = clicked.key.slice(APPROVE_PREFIX.length);
          await client.call("POST", "/api/v1/dashboard/approve", { json: { code } });
          link.state.access = link.state.access.filter((a) => a.code !== code);
          input.accessRequests = link.state.access;
          break;
        }
        case "auth.logout":
          await client.call("POST", "/api/v1/auth/logout");
          input.signInCode = null;
          break;
        case "notifications.toggle":
          await writeNotificationsSetting(configFile(), !input.notifications);
          input.notifications = !input.notifications;
          break;
        case "open.log":
          if (input.daemonLog) await open(input.daemonLog);
          break;
        case "daemon.start": {
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
          link.reconnectNow();
          break;
        }
        case "quit":
          await tray.quit();
          return;
      }
      log.info("menu action done", { action: clicked.action });
    } catch (e) {
      input.actionError = `${clicked.label}: ${(e as Error).message}`;
      log.warn("menu action failed", { action: clicked.action, error: e as Error });
    }
    render();
  }

  const registration = registerWithWatcher(bus, busName);
  await registration.ready.catch((e) => log.warn("watcher registration failed", { error: e as Error }));
  link.start();

  // The session bus going away means the session ended: nothing left to show the icon in.
  let lost: string | null = null;
  const onLost = (why: string) => {
    if (lost || quitting) return;
    lost = why;
    log.warn("lost the session bus; the tray exits", { reason: why });
    void tray.quit();
  };
  bus.on("error", (e: Error) => onLost(e.message));
  (bus as unknown as { _connection?: { on(ev: string, f: () => void): void } })._connection?.on("end", () => onLost("the bus closed the connection"));

  let quitting: Promise<void> | null = null;
  const tray: Tray = {
    busName,
    bus,
    item,
    menu,
    registration,
    link,
    view: () => current,
    done,
    lostReason: () => lost,
    quit() {
      quitting ??= (async () => {
        link.stop();
        registration.stop();
        // On a dead bus the call would never be answered.
        if (!lost) await Promise.race([bus.releaseName(busName).catch(() => {}), Bun.sleep(1000)]);
        bus.disconnect();
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
    const p = Bun.spawn([...selfCommand(), "serve", "--config", configFile], { stdin: "ignore", stdout: out.fd, stderr: out.fd, detached: true } as Parameters<typeof Bun.spawn>[1]);
    p.unref();
    log.info("started the daemon as a detached process", { pid: p.pid, log: out.file });
    return { via: "process", pid: p.pid, log: out.file, exited: p.exited };
  } finally {
    closeDaemonLog(out.fd);
  }
}

/** Runs the tray until it is told to quit (menu or signal). */
export async function runTray(opts: TrayOptions): Promise<number> {
  const tray = await startTray(opts);
  log.info("tray running", { bus_name: tray.busName });
  let signals = 0;
  // A second signal, or a quit that hangs, ends the process anyway.
  const onSignal = () => {
    if (++signals > 1) process.exit(1);
    void tray.quit();
    setTimeout(() => process.exit(1), 3000).unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  await tray.done;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return tray.lostReason() ? 1 : 0;
}

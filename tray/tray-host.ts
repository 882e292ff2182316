// The tray on a bus connection: the item and the menu, fed by a status source, menu clicks turned into actions, registered with the watcher.
import type { DaemonStatus } from "../src/core/contracts.ts";
import { VERSION } from "../src/core/build-info.ts";
import { compatibility } from "../src/core/compat.ts";
import { logger } from "../src/core/log.ts";
import { iconsInstalled } from "../src/desktop/icons/installed.ts";
import { createNotifier } from "../src/desktop/notify/notifier.ts";
import { NameFlag, type BusConnection } from "../src/desktop/dbus/connection.ts";
import { openSignInPage, type PrivateLink } from "../src/desktop/private-link.ts";
import { copyToClipboard } from "./clipboard.ts";
import { DBusMenu, MENU_PATH } from "./dbusmenu.ts";
import { writeNotificationsSetting } from "./notifications-setting.ts";
import { ITEM_PATH, StatusNotifierItem } from "./sni.ts";
import { APPROVE_PREFIX, buildView, type MenuAction, type MenuItem, type TrayInput, type TrayView } from "./state.ts";
import type { LinkState } from "./status-follower.ts";
import type { StatusSource, TrayActions } from "./tray-ports.ts";
import { registerWithWatcher, type WatcherRegistration } from "./watcher-registration.ts";

const log = logger("tray");

/** How long the start waits for the watcher's answer before going on without it. */
const REGISTRATION_WAIT_MS = 1000;

/** What an action the host leaves to its owner (Start daemon, Open daemon log, Quit) can change. */
export interface HostControl {
  input: TrayInput;
  source: StatusSource;
  render(): void;
}

export interface HostOptions {
  bus: BusConnection;
  busName: string;
  /** Makes the status source, given what to call on each change. */
  source(onChange: (s: LinkState) => void): StatusSource;
  actions: TrayActions;
  /** Opens URLs and files (xdg-open by default, a recorder in tests). */
  open(target: string): Promise<void>;
  /** The config file to open and to save the notifications setting in when the daemon has not named its own. */
  configFile: string;
  /** The notifications setting of the daemon's config, read again whenever the whole status is. */
  readNotifications(status: DaemonStatus): boolean;
  notifications: boolean;
  daemonLog?: string | null;
  quitLabel?: string;
  /** Where the private icon theme goes when the icons are not installed. */
  iconRoot?: string;
  /** The owner's part of the menu: actions whose meaning depends on where the tray runs ("quit" at least). */
  own: Partial<Record<MenuAction, (host: HostControl) => Promise<void>>> & { quit(host: HostControl): Promise<void> };
}

export interface TrayHost {
  item: StatusNotifierItem;
  menu: DBusMenu;
  registration: WatcherRegistration;
  source: StatusSource;
  view(): TrayView;
  /** Stops following the daemon and gives up the bus name (the icon goes away; not asked on a dead bus); the connection stays the caller's. */
  stop(release?: boolean): Promise<void>;
}

export async function startTrayHost(opts: HostOptions): Promise<TrayHost> {
  const { bus, busName, actions, open } = opts;
  const input: TrayInput = {
    status: null,
    linking: true,
    lastAlert: null,
    compatWarning: null,
    notifications: opts.notifications,
    actionError: null,
    trayVersion: VERSION,
    apiBase: actions.apiBase(),
    daemonLog: opts.daemonLog ?? null,
    quitLabel: opts.quitLabel,
  };
  let current = buildView(input);

  const openDashboard = async () => open(await actions.dashboardUrl());
  let signInLink: PrivateLink | null = null;
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
    // The API may have moved (or bound its port only now): the About line and "Open API docs" follow it.
    input.apiBase = actions.apiBase();
    current = buildView(input);
    item.update(current);
    menu.setMenu(current.menu);
    menu.setStatus(current.status === "NeedsAttention" ? "notice" : "normal");
  };
  menu.setMenu(current.menu);
  item.update(current);

  bus.export(ITEM_PATH, item);
  bus.export(MENU_PATH, menu);
  await bus.requestName(busName, NameFlag.DO_NOT_QUEUE);

  let seenRevision = -1;
  const source = opts.source((s: LinkState) => {
    input.status = s.status;
    input.linking = s.linking;
    input.lastAlert = s.lastAlert;
    input.linkProblem = s.problem;
    input.accessRequests = s.access;
    // The code is used once signed in: a later sign-out (API, CLI, a revoked token) must not show it again.
    if (s.status?.auth.state === "signed_in") input.signInCode = null;
    if (s.status) {
      const c = compatibility(VERSION, s.status.daemon.version);
      input.compatWarning = c.compatible ? null : `daemon ${c.message}`;
      // The setting lives in the file; it is re-read only when the whole status was (connect, config reload).
      if (s.revision !== seenRevision) input.notifications = opts.readNotifications(s.status);
      seenRevision = s.revision;
    }
    render();
  });
  const control: HostControl = { input, source, render };

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

  /** The actions that mean the same wherever the tray runs: one entry per menu action. */
  const common: Partial<Record<MenuAction, (clicked: MenuItem) => Promise<void>>> = {
    "tunnel.start": () => actions.tunnel("start"),
    "tunnel.stop": () => actions.tunnel("stop"),
    "tunnel.restart": () => actions.tunnel("restart"),
    "tunnel.copy-url": copyCloudUrl,
    reconnect: () => actions.reconnect(),
    "open.dashboard": openDashboard,
    "open.docs": () => open(actions.apiBase() + "/swagger"),
    "open.config": () => open(configFile()),
    "auth.login": async () => {
      // The daemon runs the device flow; the browser opens on the verification page, the label shows the code.
      const d = await actions.login().catch(async (e: Error) => {
        // The user clicked and waits for a browser: a refusal (a locked keyring, and what to do) is said where they look,
        // not only in the menu's warning line, which they see when they next open the menu.
        if (input.notifications) await createNotifier().send({ title: "Sign-in not started", body: e.message, urgency: "normal" });
        throw e;
      });
      input.signInCode = d.userCode;
      const expire = setTimeout(() => {
        if (input.signInCode !== d.userCode) return;
        input.signInCode = null;
        render();
      }, Math.max(0, Date.parse(d.expiresAt) - Date.now()));
      expire.unref?.();
      // The complete URI holds the code, and xdg-open's argv is readable by every local user: argv gets a loopback
      // link that redirects only this user's browser (src/desktop/private-link.ts).
      signInLink?.close();
      signInLink = (await openSignInPage(d, open)).link;
    },
    "dashboard.approve": async (clicked) => {
      const code = clicked.key.slice(APPROVE_PREFIX.length);
      await actions.approve(code);
      source.state.access = source.state.access.filter((a) => a.code !== code);
      input.accessRequests = source.state.access;
    },
    "auth.logout": async () => {
      await actions.logout();
      input.signInCode = null;
    },
    "open.log": async () => {
      if (input.daemonLog) await open(input.daemonLog);
    },
    "notifications.toggle": async () => {
      // Flipped before the write: a second click meanwhile flips it back (and writes that after this), instead of
      // reading the same old value and writing it again.
      const next = !input.notifications;
      input.notifications = next;
      try {
        await writeNotificationsSetting(configFile(), next);
      } catch (e) {
        input.notifications = !next;
        throw e;
      }
    },
  };

  async function onAction(clicked: MenuItem): Promise<void> {
    input.actionError = null;
    const action = clicked.action!;
    try {
      const own = opts.own[action];
      if (action === "quit") return await opts.own.quit(control);
      if (own) await own(control);
      else await common[action]?.(clicked);
      log.info("menu action done", { action });
    } catch (e) {
      input.actionError = `${clicked.label}: ${(e as Error).message}`;
      log.warn("menu action failed", { action, error: e as Error });
    }
    render();
  }

  const registration = registerWithWatcher(bus, busName);
  // Without a watcher the bus answers at once; a watcher that hangs must not hold up the start (the daemon's READY=1
  // waits for this component): registration goes on in the background.
  const registered = registration.ready.catch((e) => log.warn("watcher registration failed", { error: e as Error }));
  await Promise.race([registered, Bun.sleep(REGISTRATION_WAIT_MS)]);
  source.start();

  let stopping: Promise<void> | null = null;
  return {
    item,
    menu,
    registration,
    source,
    view: () => current,
    stop(release = true) {
      stopping ??= (async () => {
        source.stop();
        registration.stop();
        signInLink?.close();
        // On a dead bus the call would never be answered.
        if (release) await Promise.race([bus.releaseName(busName).catch(() => {}), Bun.sleep(1000)]);
      })();
      return stopping;
    },
  };
}

// Desktop notifications through node-notifier's notify-send backend; a missing notify-send or session bus is reported once, in one line, never thrown.
import type NotifySend from "node-notifier/notifiers/notifysend.js";
import { logger } from "../../core/log.ts";
import { APP_ICON } from "../icons/shapes.ts";
import { iconInstalled } from "../icons/installed.ts";
import { sessionBusAddress } from "../dbus-address.ts";

const log = logger("notify");

export const APP_NAME = "CloudToLocalLLM tunnel";
export const MISSING_NOTIFY_SEND = "notify-send was not found in PATH, so desktop notifications are off (install libnotify-bin)";
export const NO_SESSION_BUS = "no session bus (DBUS_SESSION_BUS_ADDRESS unset)";

/** What notify-send's stderr means, in a few words: its own text quotes the whole command (title and body) and D-Bus' advice. */
const FAILURES: [RegExp, string][] = [
  [/Cannot autolaunch D-Bus|DBUS_SESSION_BUS_ADDRESS/i, NO_SESSION_BUS],
  [/ServiceUnknown|org\.freedesktop\.Notifications was not provided/i, "no notification server on the session bus"],
  [/Could not connect|Failed to connect|Connection refused|No such file/i, "cannot connect to the session bus"],
];

/** One short reason for a failed notify-send: a known cause, else its last line of output (never the command it ran). */
export function notifyFailure(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  for (const [re, why] of FAILURES) if (re.test(text)) return why;
  const last = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("Command failed:")).pop() ?? "notify-send failed";
  return last.length > 120 ? last.slice(0, 119) + "…" : last;
}

/**
 * The body as text: notification servers that offer "body-markup" (GNOME Shell, Plasma, xfce4-notifyd, dunst, mako)
 * read `<a href>`, `<img src>`, `<b>` in it. Bodies quote what others wrote (a relay's close reason, an upstream's
 * error), so a hostile relay could otherwise put a clickable link in a desktop notification. The title is never markup.
 */
export function escapeBodyMarkup(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export interface DesktopNotification {
  title: string;
  body: string;
  urgency: "low" | "normal" | "critical";
}

export interface Notifier {
  send(n: DesktopNotification): Promise<boolean>;
  /** Why notifications cannot be shown, or null. */
  warning(): string | null;
}

/** The icon: the installed themed icon by name, else the program's own PNG copy. */
async function notificationIcon(): Promise<string> {
  if (iconInstalled(APP_ICON)) return APP_ICON;
  try {
    const { ensurePrivateIconTheme } = await import("../icons/theme.ts");
    return `${ensurePrivateIconTheme()}/${APP_ICON}.png`;
  } catch {
    return APP_ICON;
  }
}

/**
 * node-notifier on Linux runs `notify-send "TITLE" "BODY" --urgency "U" --expire-time "MS" --icon "I" --app-name "A"`
 * through /bin/sh with the values double-quoted and `"`, `$`, `` ` `` and `\` escaped; newlines become a literal "\n",
 * so bodies are kept to one line. It finds notify-send through PATH (no vendored binaries on Linux), so it works inside
 * the compiled binary. Its own "is notify-send installed" answer is cached for the process lifetime, so the presence
 * check is done here on each send instead (a later install is picked up; tests can change PATH).
 */
export function createNotifier(
  opts: {
    which?: (cmd: string) => string | null;
    env?: NodeJS.ProcessEnv;
    /** The notify-send backend's loader (tests: one that fails as an import does at the file limit). */
    loadBackend?: () => Promise<Pick<NotifySend, "notify">>;
  } = {},
): Notifier {
  const which = opts.which ?? ((cmd: string) => Bun.which(cmd));
  const env = opts.env ?? process.env;
  // node-notifier (and semver, which, …) loads with the first notification: most daemons never show one.
  let backend: Promise<Pick<NotifySend, "notify">> | null = null;
  const loadBackend =
    opts.loadBackend ??
    (async () => {
      const { default: NotifySendClass } = await import("node-notifier/notifiers/notifysend.js");
      return new NotifySendClass({ suppressOsdCheck: true } as ConstructorParameters<typeof NotifySend>[0]);
    });
  let warning: string | null = null;
  let icon: Promise<string> | null = null;
  // Each failure is logged once, one line, until a notification gets through: an alert storm is not a log storm.
  const failed = (why: string) => {
    const w = `desktop notification failed: ${why}`;
    if (warning !== w) log.warn(w);
    warning = w;
    return false;
  };
  return {
    warning: () => warning,
    async send(n) {
      if (!which("notify-send")) {
        if (warning !== MISSING_NOTIFY_SEND) log.warn(MISSING_NOTIFY_SEND);
        warning = MISSING_NOTIFY_SEND;
        return false;
      }
      // Without a bus notify-send can only fail (after trying to autolaunch one): say so without running it.
      if (!sessionBusAddress(env)) return failed(NO_SESSION_BUS);
      icon ??= notificationIcon();
      const options = {
        title: n.title,
        message: escapeBodyMarkup(n.body.replace(/\s*\n\s*/g, " ")),
        urgency: n.urgency,
        icon: await icon,
        "app-name": APP_NAME,
        // critical ones stay until dismissed (0 = never expire); others go after 10 s
        timeout: n.urgency === "critical" ? 0 : 10,
        hint: `string:desktop-entry:${APP_ICON}`,
      };
      let b: Pick<NotifySend, "notify">;
      try {
        b = await (backend ??= loadBackend());
      } catch (e) {
        // Not kept: a load that failed (out of file descriptors, say) is tried again by the next notification.
        backend = null;
        return failed(`its code could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
      }
      return await new Promise<boolean>((resolve) => {
        b.notify(options as NotifySend.Notification, (err: unknown) => {
          if (err) resolve(failed(notifyFailure(err)));
          else {
            warning = null;
            resolve(true);
          }
        });
      });
    },
  };
}

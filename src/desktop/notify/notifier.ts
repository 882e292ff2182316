// Desktop notifications through node-notifier's notify-send backend; a missing notify-send is reported once, never thrown.
import NotifySend from "node-notifier/notifiers/notifysend.js";
import { logger } from "../../core/log.ts";
import { APP_ICON } from "../icons/shapes.ts";
import { iconInstalled } from "../icons/installed.ts";

const log = logger("notify");

export const APP_NAME = "CloudToLocalLLM tunnel";
export const MISSING_NOTIFY_SEND = "notify-send was not found in PATH, so desktop notifications are off (install libnotify-bin)";

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
export function createNotifier(opts: { which?: (cmd: string) => string | null } = {}): Notifier {
  const which = opts.which ?? ((cmd: string) => Bun.which(cmd));
  const backend = new NotifySend({ suppressOsdCheck: true } as ConstructorParameters<typeof NotifySend>[0]);
  let warning: string | null = null;
  let icon: Promise<string> | null = null;
  return {
    warning: () => warning,
    async send(n) {
      if (!which("notify-send")) {
        if (!warning) log.warn(MISSING_NOTIFY_SEND);
        warning = MISSING_NOTIFY_SEND;
        return false;
      }
      warning = null;
      icon ??= notificationIcon();
      const options = {
        title: n.title,
        message: n.body.replace(/\s*\n\s*/g, " "),
        urgency: n.urgency,
        icon: await icon,
        "app-name": APP_NAME,
        // critical ones stay until dismissed (0 = never expire); others go after 10 s
        timeout: n.urgency === "critical" ? 0 : 10,
        hint: `string:desktop-entry:${APP_ICON}`,
      };
      return await new Promise<boolean>((resolve) => {
        backend.notify(options as NotifySend.Notification, (err: unknown) => {
          if (err) {
            log.warn("desktop notification failed", { error: String((err as Error).message ?? err) });
            resolve(false);
          } else resolve(true);
        });
      });
    },
  };
}

// Opens a URL in the user's browser with xdg-open, only when there is a graphical session to show it in.
import { logger } from "../core/log.ts";

const log = logger("auth");

/** Returns true when a browser was launched. The URL never carries a secret (user code or PKCE challenge only). */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return false;
  const xdgOpen = Bun.which("xdg-open", { PATH: env.PATH ?? "" });
  if (!xdgOpen) return false;
  try {
    const p = Bun.spawn([xdgOpen, url], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env });
    p.unref();
    return true;
  } catch (e) {
    log.debug("could not start xdg-open", { error: e });
    return false;
  }
}

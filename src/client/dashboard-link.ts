// The one way to open the dashboard from the desktop (the `dashboard` command and the tray's "Open dashboard"):
// ask the daemon, with the API token, for a one-time code, then open the sign-in URL that trades it for a session cookie.

import type { ApiClient } from "./api-client.ts";

export interface DashboardLink {
  url: string;
  expiresAt: string;
}

/** Asks for a code through the caller's API client (the CLI's and the tray's, with the token); the link is on the client's base. */
export async function dashboardLink(client: ApiClient): Promise<DashboardLink> {
  const base = client.base;
  const body = (await client.call("POST", "/api/v1/dashboard/code")) as { path?: unknown; expiresAt?: unknown } | null;
  if (typeof body?.path !== "string" || !body.path.startsWith("/auth?code="))
    throw new Error("the daemon did not hand out a dashboard code (is it an older version without the dashboard?)");
  return { url: base.replace(/\/+$/, "") + body.path, expiresAt: String(body.expiresAt ?? "") };
}

/** Opens a URL in the desktop's browser with xdg-open; resolves once xdg-open handed it over, rejects with a reason otherwise. */
export async function openInBrowser(url: string, opener: string[] = ["xdg-open"]): Promise<void> {
  let proc;
  try {
    proc = Bun.spawn([...opener, url], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  } catch {
    throw new Error(`${opener[0]} is not installed (on Debian and Ubuntu it is in xdg-utils)`);
  }
  // xdg-open returns once the browser has the URL (or fails); a browser it starts lives on after it.
  const code = await proc.exited;
  if (code !== 0) {
    const err = (await new Response(proc.stderr).text()).trim().split("\n")[0];
    throw new Error(`${opener[0]} failed (exit ${code})${err ? `: ${err}` : ""}`);
  }
}

// Another local user on this machine, for tests of what one user's loopback listeners answer another: curl as uid 65534.
import type { Capability } from "./requires.ts";

/** setpriv can drop to another uid only from root (CI runs as root). */
export const ROOT: Capability = { name: "root", available: () => process.getuid?.() === 0, fix: "run the tests as root (CI does), so setpriv can act as another user" };

/** curl as uid/gid 65534 (nobody), for a test that declares requireTools(["setpriv", "curl", ROOT]), no redirects followed: the status, the headers (lower-cased) and the body. */
export function curlAsNobody(url: string, ...args: string[]): { status: number; headers: string; body: string } {
  const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s", "-i", "-w", "\n%{http_code}", ...args, url], {
    stdout: "pipe",
    stderr: "pipe",
    cwd: "/",
  });
  const out = r.stdout.toString();
  const cut = out.lastIndexOf("\n");
  const [head = "", body = ""] = out.slice(0, cut).split(/\r\n\r\n/, 2);
  return { status: Number(out.slice(cut + 1)), headers: head.toLowerCase(), body };
}

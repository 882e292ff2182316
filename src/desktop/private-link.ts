// A URL that carries a sign-in code, opened without putting the code in any process's argv: a loopback redirect that only this user can follow.
import { fromOtherUser } from "../net/peer-uid.ts";
import { authPage, plainRefusal } from "../core/plain-page.ts";
import { logger } from "../core/log.ts";
import { requestProblem } from "../core/request-checks.ts";
import { lastResort } from "../core/serve-fallback.ts";

const log = logger("auth");

export interface PrivateLink {
  /** `http://127.0.0.1:PORT/NONCE`: safe in xdg-open's and the browser's argv. */
  url: string;
  close(): void;
}

/**
 * Serves `target` as a 303 at a random path on 127.0.0.1 until `ttlMs` passes or `close()`. The device flow's
 * `verification_uri_complete` holds the user code: whoever enters it first signs this daemon in to *their* account
 * (RFC 8628 §5.4), and every local user can read argv in /proc. So argv gets this link; the code leaves only in a
 * redirect to a browser of this user (the kernel's uid for the peer socket). The same browser may follow it again
 * (a reload, a restored tab) while it lives.
 */
export function privateLink(target: string, ttlMs: number): PrivateLink {
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Bun's development mode is on by default (the compiled binary too): serve-fallback.ts says what it would show.
    development: false,
    error: lastResort(log, "sign-in link", () => authPage("Something went wrong", "This link failed; start the sign-in again.", 500)),
    fetch(req, srv) {
      // Without Host (HTTP/1.0), or CONNECT, the URL is a bare target new URL() refuses.
      const problem = requestProblem(req);
      if (problem) return plainRefusal(problem);
      if (new URL(req.url).pathname !== `/${nonce}`) return authPage("Not found", "This link is not known here.", 404);
      if (fromOtherUser(srv, req)) return authPage("This sign-in belongs to another user", "Only the user who started the sign-in can open this link.", 403);
      return new Response(null, { status: 303, headers: { location: target, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
    },
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    void server.stop();
  };
  const timer = setTimeout(close, ttlMs);
  timer.unref?.();
  return { url: `http://127.0.0.1:${server.port}/${nonce}`, close };
}

/** What a started device sign-in offers to open (DeviceLogin's and the API's shape). */
export interface SignInPage {
  verificationUri: string;
  verificationUriComplete?: string | null;
  expiresAt: string;
}

/**
 * Opens a device sign-in's page: the complete URI through a private link that lives until the code expires (the caller
 * closes it sooner once the sign-in ends), else the bare page, which holds no code. Returns the link and what `open` said.
 */
export async function openSignInPage<T>(d: SignInPage, open: (url: string) => T | Promise<T>): Promise<{ link: PrivateLink | null; opened: T }> {
  const link = d.verificationUriComplete ? privateLink(d.verificationUriComplete, Math.max(1000, Date.parse(d.expiresAt) - Date.now())) : null;
  try {
    return { link, opened: await open(link?.url ?? d.verificationUri) };
  } catch (e) {
    link?.close();
    throw e;
  }
}

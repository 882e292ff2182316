// The one place that decides who a request comes from: the bearer token, or the dashboard's session cookie (+ CSRF for changes).
import { timingSafeEqual } from "node:crypto";
import { csrfProblem, type SessionManager } from "./sessions.ts";

export interface AuthOptions {
  /** The daemon's API token (src/api/token.ts). */
  token: string;
  /** Dashboard sessions: when given, a request without Authorization may use the session cookie instead. */
  sessions?: SessionManager;
  /**
   * Whether the connection is another local user's (peer-uid.ts). The browser sends the session cookie to every port of
   * this host (cookies know no ports), so any local user's web server the owner's browser loads receives it: the cookie
   * is taken only from the daemon's own user. The token, a 0600 file, needs no such check.
   */
  fromOtherUser?: () => boolean;
}

export type AuthResult = { ok: true; via: "bearer" | "cookie" } | { ok: false; reason: string; code?: "csrf_failed" };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks the credentials a request carries; never throws, never logs the token. */
export function authenticate(request: Request, opts: AuthOptions): AuthResult {
  const header = request.headers.get("authorization");
  if (!header && opts.sessions) {
    const session = opts.sessions.fromRequest(request);
    if (session) {
      if (opts.fromOtherUser?.()) return { ok: false, reason: "the dashboard session cookie is accepted only from the daemon's own user; another local user's connection cannot use it" };
      const problem = csrfProblem(request, session, opts.sessions);
      return problem ? { ok: false, reason: problem, code: "csrf_failed" } : { ok: true, via: "cookie" };
    }
  }
  if (!header) return { ok: false, reason: "an API token is required: send Authorization: Bearer <token> (the token is in the api-token file)" };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, reason: "the Authorization header must be Bearer <token>" };
  if (!sameSecret(m[1]!, opts.token)) return { ok: false, reason: "the API token is wrong (it changes when the api-token file is recreated)" };
  return { ok: true, via: "bearer" };
}

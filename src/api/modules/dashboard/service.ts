// Dashboard sign-in without a token in the browser: one-time codes for token holders, traded at /auth for a session cookie.
import type { DaemonContext } from "../../../core/component.ts";
import { HttpError } from "../../../core/http-error.ts";
import { accessRequestsFor, normalizeCode } from "../../security/access-requests.ts";
import { sessionsFor, type NewSession } from "../../security/sessions.ts";
import { WINDOW_MS } from "../../../dashboard/metrics-history.ts";

export function issueCode(ctx: DaemonContext, host: string) {
  const { code, expiresAt } = sessionsFor(ctx).issueCode();
  const path = `/auth?code=${encodeURIComponent(code)}`;
  return { code, path, url: `http://${host}${path}`, expiresAt: new Date(expiresAt).toISOString() };
}

/** Lets in the browser waiting with this code (POST /api/v1/dashboard/approve, `dashboard approve` and the tray's menu item). */
export function approveAccess(ctx: DaemonContext, code: string): { approved: true } {
  if (!accessRequestsFor(ctx).approve(code))
    throw new HttpError("not_found", `no dashboard access request is waiting with code "${code.slice(0, 20)}" (codes last two minutes and work once)`);
  ctx.events.emit("dashboard.access", { code: normalizeCode(code), state: "approved", expiresAt: new Date().toISOString() });
  return { approved: true as const };
}

/** Null when the code is unknown, spent or expired. */
export function exchangeCode(ctx: DaemonContext, code: string | undefined): NewSession | null {
  return sessionsFor(ctx).exchange(code);
}

export function sessionOf(ctx: DaemonContext, cookieHeader: string | null) {
  return sessionsFor(ctx).fromCookieHeader(cookieHeader);
}

export function endSession(ctx: DaemonContext, cookieHeader: string | null): string {
  sessionsFor(ctx).revoke(cookieHeader);
  return sessionsFor(ctx).clearCookie();
}

/** The daemon's samples for the charts (empty when the sampler is not running). */
export function chartHistory(ctx: DaemonContext) {
  const h = ctx.services.metricsHistory;
  return { intervalMs: h?.intervalMs ?? 0, windowMs: WINDOW_MS, upstreams: h?.all() ?? {} };
}

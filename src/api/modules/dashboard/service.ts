// Dashboard sign-in without a token in the browser: one-time codes for token holders, traded at /auth for a session cookie.
import type { DaemonContext } from "../../../core/component.ts";
import { sessionsFor, type NewSession } from "../../security/sessions.ts";
import { WINDOW_MS } from "../../../dashboard/metrics-history.ts";

export function issueCode(ctx: DaemonContext, host: string) {
  const { code, expiresAt } = sessionsFor(ctx).issueCode();
  const path = `/auth?code=${encodeURIComponent(code)}`;
  return { code, path, url: `http://${host}${path}`, expiresAt: new Date(expiresAt).toISOString() };
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

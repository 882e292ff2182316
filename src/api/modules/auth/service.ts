// What the sign-in routes do, on ctx.services.auth (the daemon's AuthManager).
import type { DaemonContext } from "../../../core/component.ts";
import { HttpError } from "../../../core/http-error.ts";
import { httpErrorOf } from "../../../core/error-codes.ts";
import type { AuthService, AuthStatus } from "../../../auth/manager.ts";
import { redactUrl } from "../../../net/redact-url.ts";

function service(ctx: DaemonContext): AuthService {
  const auth = ctx.services.auth;
  if (!auth) throw new HttpError("unavailable", "the sign-in service is not running");
  return auth;
}

export function authStatus(ctx: DaemonContext): AuthStatus & { issuer: string | null } {
  // An open route (any local user reads it): the issuer as every URL is shown, its credentials hidden (docs/api.md).
  const issuer = redactUrl(ctx.config.current().auth.issuer) || null;
  const auth = ctx.services.auth;
  if (!auth) return { state: issuer ? "signed_out" : "disabled", subject: null, name: null, expiresAt: null, reason: null, refresh: null, pending: null, issuer };
  return { ...auth.status(), issuer };
}

export async function startLogin(ctx: DaemonContext) {
  const auth = service(ctx);
  if (auth.status().state === "disabled") throw new HttpError("conflict", "sign-in is not configured: set [auth] issuer and client_id");
  try {
    return await auth.startDeviceLogin();
  } catch (e) {
    // A refusal of our own (the tokens could not be stored: 503) keeps its code; anything else is the issuer's trouble.
    throw httpErrorOf(e) ?? new HttpError("upstream_error", (e as Error).message);
  }
}

export async function logout(ctx: DaemonContext) {
  await service(ctx).logout();
  return authStatus(ctx);
}

export async function reload(ctx: DaemonContext) {
  await service(ctx).reload();
  return authStatus(ctx);
}

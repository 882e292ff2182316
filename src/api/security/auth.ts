// The one place that decides who a request comes from: the bearer token today (the dashboard adds its session cookie + CSRF here).
import { timingSafeEqual } from "node:crypto";

export interface AuthOptions {
  /** The daemon's API token (src/api/token.ts). */
  token: string;
}

export type AuthResult = { ok: true; via: "bearer" } | { ok: false; reason: string };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks the credentials a request carries; never throws, never logs the token. */
export function authenticate(request: Request, opts: AuthOptions): AuthResult {
  const header = request.headers.get("authorization");
  if (!header) return { ok: false, reason: "an API token is required: send Authorization: Bearer <token> (the token is in the api-token file)" };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, reason: "the Authorization header must be Bearer <token>" };
  if (!sameSecret(m[1]!, opts.token)) return { ok: false, reason: "the API token is wrong (it changes when the api-token file is recreated)" };
  return { ok: true, via: "bearer" };
}

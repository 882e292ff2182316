// What a request hears when its API key stopped being valid while it waited in the broker's queue: the gateway's check at
// its turn and the queue's own refusal (at once, src/broker/queued-expiry.ts) say it alike.
import { HttpError } from "./http-error.ts";

/** The key was revoked (or replaced by a new key of its name) meanwhile. */
export function revokedWhileQueued(name: string): HttpError {
  return new HttpError("unauthorized", `the API key "${name}" was revoked while its request waited in the queue`);
}

/** The key's expires_at passed meanwhile. */
export function expiredWhileQueued(name: string, expiresAt: string): HttpError {
  return new HttpError("unauthorized", `the API key "${name}" expired at ${expiresAt} while its request waited in the queue`);
}

// The page's instance of the one API client: same origin, session cookie, the CSRF token on changes, ApiError with the code.
import { ApiClient, type CallOptions } from "../client/api-client.ts";

export { ApiError, issuesOf, type Issue } from "../client/api-client.ts";

const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";

/** Called when the API says the session is gone (cookie expired or the daemon restarted). */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/**
 * A call the daemon has not answered in this long fails as "not answering" (a hung daemon, a path dropping packets):
 * without it a button stayed disabled and its "…ing" message stood for as long as the browser waited. Every route the
 * page calls answers in well under a second; Replay, which waits for a whole generation, sets none.
 */
export const CALL_TIMEOUT_MS = 30_000;

export const api = new ApiClient({ base: "", csrf, timeoutMs: CALL_TIMEOUT_MS, onUnauthorized: () => onUnauthorized() });

/** A call by a path known at run time (the views build them); the typed `api.call` for the fixed ones. */
export async function call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  return (await api.send(method, path, opts)).body as T;
}

// One sentence for the sign-in's trouble (refreshes failing, token expired, sign-in required, signed in for this run only), shared by status, whoami, dashboard and tray.
import type { AuthState, RefreshTrouble } from "./contracts.ts";

interface AuthLike {
  state: AuthState;
  reason?: string | null;
  refresh?: RefreshTrouble | null;
  unstored?: string | null;
}

/** How often the daemon tries again to store tokens the store refused (src/auth/manager.ts). */
export const STORE_RETRY_S = 15;

/**
 * Signed in with tokens the secret store refused (`why`, e.g. a locked keyring): it holds for this run only. What the
 * daemon does about it and what the user can: one sentence for the status, whoami, the tray and the alert.
 */
export function unstoredSignIn(why: string): string {
  // The store's own sentence may end in "and try again" (a locked keyring): here the daemon is the one that tries again.
  const cause = why.replace(/[.\s]+$/, "").replace(/ and try again$/, "");
  return `for this run only: the tokens could not be stored (${cause}). Once they can be, the daemon stores them within ${STORE_RETRY_S} s; if they still cannot be when it stops, the sign-in is revoked then and you will need to sign in again`;
}

/** null when there is nothing wrong to say; `time` formats the next retry (ISO in, text out). */
export function signInTrouble(a: AuthLike, time: (iso: string) => string = (iso) => iso): string | null {
  const r = a.refresh;
  const unstored = a.state === "signed_in" && a.unstored ? `signed in ${a.unstored}` : null;
  if (r) return `${r.tokenExpired ? "access token expired, refresh failing" : "refresh failing"} (attempt ${r.attempt}: ${r.lastError})${r.nextRetryAt ? `, next retry ${time(r.nextRetryAt)}` : ""}${unstored ? `; ${unstored}` : ""}`;
  if (a.state === "login_required") return `sign in again${a.reason ? `: ${a.reason}` : ""}`;
  return unstored;
}

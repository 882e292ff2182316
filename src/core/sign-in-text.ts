// One sentence for the sign-in's trouble (refreshes failing, token expired, sign-in required), shared by status, dashboard and tray.
import type { AuthState, RefreshTrouble } from "./contracts.ts";

interface AuthLike {
  state: AuthState;
  reason?: string | null;
  refresh?: RefreshTrouble | null;
}

/** null when there is nothing wrong to say; `time` formats the next retry (ISO in, text out). */
export function signInTrouble(a: AuthLike, time: (iso: string) => string = (iso) => iso): string | null {
  const r = a.refresh;
  if (r) return `${r.tokenExpired ? "access token expired, refresh failing" : "refresh failing"} (attempt ${r.attempt}: ${r.lastError})${r.nextRetryAt ? `, next retry ${time(r.nextRetryAt)}` : ""}`;
  if (a.state === "login_required") return `sign in again${a.reason ? `: ${a.reason}` : ""}`;
  return null;
}

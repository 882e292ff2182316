// Lets the sign-in commands tell a running daemon about a new or removed session, through the CLI's API client.
import { apiCall, apiTarget } from "../cli/api-client.ts";

export type DaemonReply<T> = { reached: true; ok: true; body: T } | { reached: true; ok: false; message: string } | { reached: false };

/** Calls the daemon's API; `reached: false` when no daemon answers or its address is unknown (a random port). */
export async function callDaemon<T = unknown>(opts: { config?: string; url?: string }, method: "GET" | "POST", path: string): Promise<DaemonReply<T>> {
  let target;
  try {
    target = apiTarget(opts);
  } catch {
    return { reached: false };
  }
  try {
    return { reached: true, ok: true, body: (await apiCall<T>(target, method, path)).body };
  } catch (e) {
    const message = (e as Error).message;
    if (message.startsWith("cannot reach the daemon")) return { reached: false };
    return { reached: true, ok: false, message };
  }
}

// Lets the sign-in commands tell a running daemon about a new or removed session; no daemon is not an error for them.
import { ApiError } from "../client/api-client.ts";
import { cliError, daemonApi, ensureSameConfig } from "./daemon-api.ts";

export type DaemonReply<T> = { reached: true; ok: true; body: T } | { reached: true; ok: false; message: string } | { reached: false };

/** Calls the daemon's API; `reached: false` when no daemon answers (the error's code says so) or its address is unknown (a random port). */
export async function callDaemon<T = unknown>(opts: { config?: string; url?: string }, method: "GET" | "POST", path: string): Promise<DaemonReply<T>> {
  let api;
  try {
    api = daemonApi(opts);
  } catch {
    return { reached: false };
  }
  try {
    // Another config's daemon on [api] listen is not told (its sign-in is its own): ensureSameConfig says so.
    await ensureSameConfig(api);
    return { reached: true, ok: true, body: (await api.client.send(method, path)).body as T };
  } catch (e) {
    if (e instanceof ApiError && e.unreachable) return { reached: false };
    return { reached: true, ok: false, message: cliError(api, e).message };
  }
}

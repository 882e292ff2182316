// Lets the sign-in commands tell a running daemon about a new or removed session (null when no daemon answers).
import type { Config } from "../config/schema.ts";
import { splitListen } from "../config/listen.ts";
import { readApiToken } from "../api/token.ts";

export async function callDaemon(config: Config, method: "GET" | "POST", path: string): Promise<Response | null> {
  const { hostname, port } = splitListen(config.api.listen);
  if (!port) return null;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const token = readApiToken(config);
  try {
    return await fetch(`http://${host}:${port}${path}`, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(3000),
    });
  } catch {
    return null;
  }
}

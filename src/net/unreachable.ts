// Why a TCP connection to a host and port failed, in words an operator can act on: a name that does not resolve, a
// refused port, no route. Bun's WebSocket and Redis clients say only that the connection failed or closed. The words
// are net-error-words.ts's, as every other place says them.
import { explained, netErrorWords } from "./net-error-words.ts";

/** "HOST:PORT: why (CODE)" for a connection that failed with `e` (never a credential: neither part holds one). */
export function unreachable(host: string, port: number, e: NodeJS.ErrnoException): string {
  const words = netErrorWords(e.code);
  return `${host.includes(":") ? `[${host}]` : host}:${port}: ${words ? `${explained(words)} (${e.code})` : e.message}`;
}

/**
 * The system's code for a TCP connection to `host`:`port` that node:net failed with `code`. Bun's node:net (and
 * Bun.connect) says ECONNREFUSED, "nothing listens on that port", for every connection that fails before it opens: a
 * network with no route (ENETUNREACH) too, which sent an operator after a Redis that was fine. Its fetch names the
 * system's code, as its WebSocket does for the tunnel's agent: one fetch of http://host:port/ is asked then, only after
 * a connection already failed (nothing listened to read it). Another code, or none from fetch, is kept as it was.
 */
export async function connectCode(host: string, port: number, code: string | undefined, timeoutMs: number): Promise<string | undefined> {
  if (code !== "ECONNREFUSED") return code;
  try {
    const res = await fetch(`http://${host.includes(":") ? `[${host}]` : host}:${port}/`, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual", proxy: false } as RequestInit);
    await res.body?.cancel();
  } catch (e) {
    const got = (e as { code?: unknown }).code;
    if (typeof got === "string" && netErrorWords(got)) return got;
  }
  return code;
}

/** The host and port a ws(s):// or http(s):// URL connects to; null for a URL that does not parse. */
function hostPort(url: string): { host: string; port: number } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || (u.protocol === "wss:" || u.protocol === "https:" ? 443 : 80)) };
}

/**
 * "HOST:PORT: why (CODE)" for `url` when `code` (the system's error, as Bun's WebSocket error event carries it) is one
 * net-error-words.ts has words for; null otherwise.
 */
export function unreachableWith(url: string, code: unknown): string | null {
  const at = netErrorWords(code) ? hostPort(url) : null;
  return at && unreachable(at.host, at.port, Object.assign(new Error(code as string), { code: code as string }));
}

/**
 * Why `url`'s host and port cannot be reached, from one TCP connection (null when it connects now, or gives no answer
 * within `timeoutMs`). Only the host and port are named: a URL's query may hold a token.
 */
export async function whyUnreachable(url: string, timeoutMs: number): Promise<string | null> {
  const at = hostPort(url);
  if (!at) return null;
  const { host, port } = at;
  // Loaded on a failure only: an agent that connects never pays for node:net.
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (v: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("connect", () => done(null));
    sock.on("error", (e) => done(unreachable(host, port, e)));
  });
}

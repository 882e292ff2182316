// What a cluster.redis_url must be (redis:// or rediss://, a host, a port 1–65535, a database number), checked once as
// the relay config is decoded, and how a message names one: never with its credentials, even when it does not parse.
import { redactUrl, URL_REDACTED } from "../../net/redact-url.ts";

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * `url` as a message may quote it, or null when it is not even "scheme://…" (it may then be a password pasted in the
 * wrong place: it is not quoted at all). A URL that does not parse has everything before its last "@" after the scheme
 * hidden (user and password, however malformed); one that parses goes through the one URL redaction (redact-url.ts).
 */
export function shownRedisUrl(url: string): string | null {
  const scheme = SCHEME.exec(url)?.[0];
  if (!scheme) return null;
  if (URL.canParse(url)) return redactUrl(url);
  const at = url.lastIndexOf("@");
  return at > scheme.length - 1 ? redactUrl(scheme + URL_REDACTED + url.slice(at)) : redactUrl(url);
}

/** The port a URL that does not parse names (the digits after the authority's last ":"), or null. */
function portOf(url: string, scheme: string): number | null {
  const rest = url.slice(scheme.length);
  const authority = rest.slice(rest.lastIndexOf("@") + 1).split(/[/?#]/)[0]!;
  const m = /:(\d+)$/.exec(authority);
  return m ? Number(m[1]) : null;
}

/** Why `url` is not a Redis URL the relay can connect to, or null when it is one (the caller names the field). */
export function redisUrlProblem(url: string): string | null {
  const shown = shownRedisUrl(url);
  const form = "redis://[[user]:password@]host:port/db (rediss:// for TLS)";
  if (shown === null) return `is not a URL: write it as ${form}`;
  const scheme = SCHEME.exec(url)![0];
  if (!/^rediss?:\/\/$/.test(scheme)) return `"${shown}" must be a redis:// or rediss:// URL`;
  const badPort = (p: number) => `"${shown}": port ${p} is not a TCP port (1 to 65535)`;
  if (!URL.canParse(url)) {
    const p = portOf(url, scheme);
    if (p !== null && (p < 1 || p > 65535)) return badPort(p);
    return `"${shown}" does not parse as a URL: ${form}, with characters outside A-Za-z0-9-._~ in the user name and password percent-encoded`;
  }
  const u = new URL(url);
  if (!u.hostname) return `"${shown}" names no host (${form})`;
  if (u.port === "0") return badPort(0);
  if (!/^(\/\d*)?$/.test(u.pathname)) return `"${shown}": the database (the path) is a number, e.g. /0`;
  return null;
}

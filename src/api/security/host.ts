// DNS-rebinding guard: a page on evil.example that re-resolves to 127.0.0.1 still sends "Host: evil.example", which is refused here.
import { HttpError } from "../../core/http-error.ts";
import type { SecurityPolicy } from "./policy.ts";

/** "host:port", "[::1]:port" or "host" → lower-case host name ("[::1]" keeps its brackets). */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.indexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

/** The Host header ("127.0.0.1:8765"); app.handle() requests built in tests and tools have none, and their URL carries it. */
export function requestHost(request: Request): string {
  return request.headers.get("host") ?? new URL(request.url).host;
}

/** Returns the Host header value (e.g. "127.0.0.1:8765"), or throws host_not_allowed. */
export function checkHost(request: Request, policy: SecurityPolicy): string {
  const host = requestHost(request);
  if (!policy.hosts.has(hostName(host)))
    throw new HttpError("host_not_allowed", `the Host "${hostName(host)}" is not allowed; use 127.0.0.1 or localhost, or add it to [api] allowed_hosts`);
  return host;
}

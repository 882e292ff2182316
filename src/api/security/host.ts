// DNS-rebinding guard: a page on evil.example that re-resolves to 127.0.0.1 still sends "Host: evil.example", which is refused here.
import { HttpError } from "../../core/http-error.ts";
import { hostHeaderAllowed } from "../../net/host.ts";
import type { SecurityPolicy } from "./policy.ts";

/** The Host header ("127.0.0.1:8765"); app.handle() requests built in tests and tools have none, and their URL carries it. */
export function requestHost(request: Request): string {
  return request.headers.get("host") ?? new URL(request.url).host;
}

/** Returns the Host header value (e.g. "127.0.0.1:8765"), or throws host_not_allowed. The rule is the broker's too (src/net/host.ts). */
export function checkHost(request: Request, policy: SecurityPolicy): string {
  const host = requestHost(request);
  if (!hostHeaderAllowed(host, policy.hosts))
    throw new HttpError("host_not_allowed", `the Host "${host.slice(0, 100)}" is not allowed; use 127.0.0.1 or localhost, or add it to [api] allowed_hosts`);
  return host;
}

// Headers as the request inspector keeps them: credentials replaced by a marker, and bounded in count and length.
import { SECRET_NAME } from "./redact-url.ts";

/** What replaces a secret header value. */
export const HEADER_REDACTED = "[redacted]";
/** Headers kept per request and characters per value: a record stays small whatever a client sends. */
export const MAX_HEADERS = 48;
export const MAX_VALUE = 256;

/** Credentials by name: the client's to the broker, cookies, and anything a proxy or SDK names like a secret. */
const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"]);

/** Whether a header's value is a secret: by its name, or because it holds a gateway key (`c2l_…`) anywhere. */
export function isSecretHeader(name: string, value: string): boolean {
  const n = name.toLowerCase();
  if (SECRET_HEADERS.has(n) || value.includes("c2l_")) return true;
  // Our own x-c2l-* headers carry ids, never secrets, nor do rate-limit counters ("x-ratelimit-remaining-tokens");
  // other names with a credential-like word are hidden.
  return !n.startsWith("x-c2l-") && !n.startsWith("content-") && !n.includes("ratelimit") && n !== "accept" && n !== "user-agent" && n !== "server-timing" && SECRET_NAME.test(n);
}

/** Headers as Bun's `headers.toJSON()` gives them: lower-case names, Set-Cookie as a list. */
export type HeaderJson = Record<string, string | string[]>;

/**
 * Name → value (lower-case names), secrets redacted, at most MAX_HEADERS entries of at most MAX_VALUE characters.
 * Built from Bun's headers.toJSON(), one native call and the object kept, rather than by iterating the Headers: the
 * iterator made an array per header (a record is built per request; docs/performance.md, "What makes the broker's tail").
 * `json`, when given, is that object already made for the same headers (the upstream request's head read it): copied,
 * not changed, and no string made again.
 */
export function capturedHeaders(headers: Headers | null | undefined, json: HeaderJson | null = null): Record<string, string> | undefined {
  if (!headers) return undefined;
  const src = json ?? (headers.toJSON() as HeaderJson);
  const out: Record<string, string | string[]> = json ? {} : src;
  let n = 0;
  for (const name in src) {
    if (n++ >= MAX_HEADERS) {
      if (!json) delete out[name];
      continue;
    }
    const v = src[name]!;
    // Set-Cookie is the one header toJSON keeps as a list (secret anyway).
    const value = typeof v === "string" ? v : v.join(", ");
    if (isSecretHeader(name, value)) out[name] = HEADER_REDACTED;
    else if (value.length > MAX_VALUE) out[name] = value.slice(0, MAX_VALUE) + "…";
    else if (json || value !== v) out[name] = value;
  }
  return out as Record<string, string>;
}

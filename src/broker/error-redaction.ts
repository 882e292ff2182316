// An upstream's error answer with its own credential taken out: a server that quotes what it refused (a 401 body naming
// the Authorization or key it got) would otherwise show the operator's auth_secret to whoever called the broker.
import type { Upstream } from "./upstream.ts";

export const REDACTED = "[redacted]";
/** Shorter secrets are not looked for: replacing a few common letters would garble the body and hide nothing. */
const MIN_SECRET = 4;

/** The secret the broker sends this upstream (its auth value without the scheme), or null for none. */
function upstreamSecret(u: Upstream): string | null {
  const value = u.authValue;
  if (!value) return null;
  const scheme = u.config.auth_scheme;
  const secret = scheme && value.startsWith(`${scheme} `) ? value.slice(scheme.length + 1) : value;
  return secret.length >= MIN_SECRET ? secret : null;
}

/**
 * `bytes` (an error answer read whole) with every occurrence of the upstream's secret replaced by [redacted], as it
 * is and as a JSON string spells it (a secret with a quote, backslash or control character is escaped there). The same
 * bytes when the upstream sends no secret or the body holds none of it (no copy).
 */
export function redactUpstreamSecret(bytes: Uint8Array, u: Upstream | null): Uint8Array {
  const secret = u ? upstreamSecret(u) : null;
  if (secret === null || bytes.byteLength < MIN_SECRET) return bytes;
  const escaped = JSON.stringify(secret).slice(1, -1);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.indexOf(secret) < 0 && (escaped === secret || buf.indexOf(escaped) < 0)) return bytes;
  let text = buf.toString("utf8").split(secret).join(REDACTED);
  if (escaped !== secret) text = text.split(escaped).join(REDACTED);
  return new TextEncoder().encode(text);
}

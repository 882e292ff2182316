// The headers a client's Connection header names: hop-by-hop (RFC 9110 §7.6.1), so the relay drops them here, the one
// place that still sees Connection (it never crosses the tunnel or a node hop, so no later hop could drop them).

/** Framing the relay itself reads or sets: never removed on a client's say-so. */
const KEPT: ReadonlySet<string> = new Set(["host", "content-length", "transfer-encoding", "keep-alive", "close", ""]);

/**
 * Removes from `headers` every field its Connection header names. A request without one, or with only keep-alive or
 * close (nearly every call), costs one lookup and no allocation beyond the header's value.
 */
export function dropConnectionNamed(headers: Headers): void {
  if (!headers.has("connection")) return;
  const v = headers.get("connection")!.toLowerCase();
  if (v === "keep-alive" || v === "close") return;
  for (const token of v.split(",")) {
    const name = token.trim();
    if (!KEPT.has(name)) headers.delete(name);
  }
}

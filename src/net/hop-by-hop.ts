// The hop-by-hop headers of RFC 9110 §7.6.1: they describe one connection, so no proxy, tunnel or relay hop copies them.
export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"] as const;

/**
 * The header names a request's Connection value lists (RFC 9110 §7.6.1: hop-by-hop as well, so the broker never passed
 * them on), in lower case; none for no Connection. What shows a recorded request again (replay, Copy as curl) leaves
 * them out too.
 */
export function connectionNamed(value: string | undefined): string[] {
  return value ? value.toLowerCase().split(",").map((s) => s.trim()) : [];
}

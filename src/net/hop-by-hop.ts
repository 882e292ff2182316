// The hop-by-hop headers of RFC 9110 §7.6.1: they describe one connection, so no proxy, tunnel or relay hop copies them.
export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"] as const;

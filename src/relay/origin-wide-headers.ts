// Answer headers that act on the whole origin that sends them, not on the one answer: never taken from an agent.
// The relay's origin is shared by every tunnel and the chat page, so one tunnel's agent (or the upstream behind it)
// must not be able to wipe that origin's storage and reload its tabs (Clear-Site-Data), switch off its HSTS
// (max-age=0), have browsers report their visits to other tunnels elsewhere (NEL, Report-To) or point its traffic at
// another server (Alt-Svc). An answer's own headers (type, caching, rate limits) still come through.
export const ORIGIN_WIDE_HEADERS = ["clear-site-data", "strict-transport-security", "nel", "report-to", "reporting-endpoints", "alt-svc", "public-key-pins", "public-key-pins-report-only"] as const;

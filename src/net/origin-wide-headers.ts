// Answer headers that act on the whole origin (or, for cookies, the whole host) that sends them, not on the one answer.
// The relay's origin is shared by every tunnel and the chat page, and the broker's host 127.0.0.1 carries the
// dashboard's session cookie (cookies ignore ports): an agent, or an upstream behind the broker, must not be able to
// wipe that origin's cookies and storage and reload its tabs (Clear-Site-Data), switch off its HSTS (max-age=0), have
// browsers report their visits elsewhere (NEL, Report-To) or point its traffic at another server (Alt-Svc). Both drop
// them from what they pass on; an answer's own headers (type, caching, rate limits) still come through.
export const ORIGIN_WIDE_HEADERS = ["clear-site-data", "strict-transport-security", "nel", "report-to", "reporting-endpoints", "alt-svc", "public-key-pins", "public-key-pins-report-only"] as const;

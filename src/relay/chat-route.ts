// The relay's chat page, /chat and its assets: served from memory with a strict CSP; the page talks only to this
// origin (/t/ID/...), so it needs no CORS, and nothing it sends is stored here. With [oidc] chat_client_id the page
// may also reach the issuer (discovery and token endpoint) to sign in with authorization code + PKCE.
import { HttpError } from "../core/http-error.ts";
import type { RelayConfig } from "./config.ts";

/** The sign-in the page offers: the issuer, the public client id and the audience to ask for; null without sign-in. */
export function chatSignIn(config: RelayConfig): { issuer: string; client_id: string; audience: string } | null {
  const o = config.oidc;
  return o.issuer && o.chat_client_id ? { issuer: o.issuer, client_id: o.chat_client_id, audience: o.audience } : null;
}

/** default-src 'self' with nothing inline; the issuer's origin joins connect-src only when sign-in is configured. */
export function chatCsp(config: RelayConfig): string {
  const signIn = chatSignIn(config);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${signIn ? ` ${new URL(signIn.issuer).origin}` : ""}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

// Loaded on first use: in development the bundle is built when this module is first imported.
const assets = () => import("./chat-assets.ts");
type Assets = Awaited<ReturnType<typeof assets>>;

/**
 * The files under /chat: content type, body and caching. `versioned`: cached only under this build's `?v=` (the shell
 * names it); a shell from another version (a node not yet upgraded behind the same balancer) asking here gets this
 * build's file uncached, not kept an hour in its place.
 */
const FILES: Record<string, { type: string; body: (a: Assets, c: RelayConfig) => string; cache: string; versioned?: true }> = {
  "/chat": { type: "text/html; charset=utf-8", body: (a) => a.CHAT_HTML, cache: "no-cache" },
  "/chat/": { type: "text/html; charset=utf-8", body: (a) => a.CHAT_HTML, cache: "no-cache" },
  "/chat/app.js": { type: "text/javascript; charset=utf-8", body: (a) => a.CHAT_JS, cache: "public, max-age=3600", versioned: true },
  "/chat/app.css": { type: "text/css; charset=utf-8", body: (a) => a.CHAT_CSS, cache: "public, max-age=3600", versioned: true },
  "/chat/config.json": { type: "application/json", body: (_a, c) => JSON.stringify({ signIn: chatSignIn(c) }), cache: "no-cache" },
};

/** True when the path is the chat page's (the route table asks before answering). */
export function isChatPath(pathname: string): boolean {
  return pathname in FILES;
}

export async function chatPage(req: Request, pathname: string, config: RelayConfig): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") return new HttpError("method_not_allowed", `${req.method} is not allowed on ${pathname}`).toResponse({ allow: "GET, HEAD" });
  const f = FILES[pathname]!;
  const a = await assets();
  const body = f.body(a, config);
  const cache = f.versioned && new URL(req.url).searchParams.get("v") !== a.CHAT_VERSION ? "no-cache" : f.cache;
  const headers = { "content-security-policy": chatCsp(config), "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "content-type": f.type, "cache-control": cache };
  return new Response(req.method === "HEAD" ? null : body, { headers });
}

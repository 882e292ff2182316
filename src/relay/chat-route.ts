// The relay's chat page, /chat and its two assets: served from memory with a strict CSP; the page talks only to this
// origin (/t/ID/...), so it needs no CORS, and nothing it sends is stored here.
import { HttpError } from "../core/http-error.ts";

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const COMMON = { "content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };

// Loaded on first use: in development the bundle is built when this module is first imported.
const assets = () => import("./chat-assets.ts");

/** The files under /chat: the path, its content type and its body. */
const FILES: Record<string, { type: string; body: (a: Awaited<ReturnType<typeof assets>>) => string; cache: string }> = {
  "/chat": { type: "text/html; charset=utf-8", body: (a) => a.CHAT_HTML, cache: "no-cache" },
  "/chat/": { type: "text/html; charset=utf-8", body: (a) => a.CHAT_HTML, cache: "no-cache" },
  "/chat/app.js": { type: "text/javascript; charset=utf-8", body: (a) => a.CHAT_JS, cache: "public, max-age=3600" },
  "/chat/app.css": { type: "text/css; charset=utf-8", body: (a) => a.CHAT_CSS, cache: "public, max-age=3600" },
};

/** True when the path is the chat page's (the route table asks before answering). */
export function isChatPath(pathname: string): boolean {
  return pathname in FILES;
}

export async function chatPage(req: Request, pathname: string): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") return new HttpError("method_not_allowed", `${req.method} is not allowed on ${pathname}`).toResponse({ allow: "GET, HEAD" });
  const f = FILES[pathname]!;
  const body = f.body(await assets());
  return new Response(req.method === "HEAD" ? null : body, { headers: { ...COMMON, "content-type": f.type, "cache-control": f.cache } });
}

// The dashboard's HTTP responses: the page (with this session's CSRF token), its assets, and the plain pages shown without a session.
import { ERROR_CODE_HEADER, type ErrorCode } from "../../../core/http-error.ts";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  // The page carries a CSRF token: never cache it.
  "cache-control": "no-store",
};

// Loaded on first use: in development the bundle is built when this module is first imported.
const assets = () => import("../../../dashboard/assets.ts");

export async function dashboardPage(csrf: string): Promise<Response> {
  const { renderIndex } = await assets();
  return new Response(renderIndex(csrf), { headers: PAGE_HEADERS });
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * The stable code of a refusal page's status, in x-c2l-error-code as on every error we render (docs/errors.md): the
 * page is HTML for the browser that opened it, the header is for a script or test that did.
 */
const REFUSAL_CODES: Partial<Record<number, ErrorCode>> = { 401: "unauthorized", 403: "forbidden", 429: "rate_limited" };

/** The page shell without script: title and paragraphs (already HTML). */
async function shell(status: number, title: string, inner: string, extraHead = ""): Promise<Response> {
  const { ASSET_VERSION } = await assets();
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">${extraHead}<title>${escapeHtml(title)} — CloudToLocalLLM tunnel</title><link rel="icon" href="/dashboard/icon.svg" type="image/svg+xml"><link rel="stylesheet" href="/dashboard/app.css?v=${ASSET_VERSION}"></head><body><main class="plain"><h1>${escapeHtml(title)}</h1>${inner}</main></body></html>`;
  // same-origin, not no-referrer: with no-referrer a browser posts the Ask for access form with `Origin: null`, which
  // cannot be told from a sandboxed page elsewhere. These pages carry no secret in their address.
  const code = REFUSAL_CODES[status];
  return new Response(html, { status, headers: { ...PAGE_HEADERS, "referrer-policy": "same-origin", ...(code ? { [ERROR_CODE_HEADER]: code } : {}) } });
}

const HOW_TO_OPEN = `<p>Run <code>cloudtolocalllm-tunnel dashboard</code> in a terminal, or choose <strong>Open dashboard</strong> in the tray menu: it opens a fresh sign-in link.</p>`;
/** A plain form (no script): the CSP allows posting to the page's own origin. */
const ASK_FORM = `<form method="post" action="/auth/request"><p>Or ask from here: the owner of this machine approves this browser with the code shown next.</p><button type="submit" id="ask-access">Ask for access</button></form>`;

/** A page without script for "no session" and "link expired": says what to run, and offers to ask for access. */
export async function plainPage(status: number, title: string, message: string): Promise<Response> {
  return shell(status, title, `<p>${escapeHtml(message)}</p>${HOW_TO_OPEN}${ASK_FORM}`);
}

/** The pages of an access request: waiting with its code (reloads itself every 2 s), refused, or asked too often. */
/** A browser of another local user (security/same-user.ts): refused before any code or request is spent. */
export const otherUserPage = () =>
  plainPage(403, "This dashboard belongs to another user", "The dashboard signs in only browsers of the user the daemon runs as.");

export async function accessPage(status: number, title: string, message: string, o: { code?: string; waiting?: boolean; ask: boolean } = { ask: false }): Promise<Response> {
  let inner = `<p>${escapeHtml(message)}</p>`;
  if (o.code)
    inner += `<p class="access-code" id="access-code">${escapeHtml(o.code)}</p><p>The owner approves it with <code>cloudtolocalllm-tunnel dashboard approve ${escapeHtml(o.code)}</code>, or in the tray menu. Approve only a code this page shows: a desktop notification names it too. This page goes on to the dashboard by itself once approved.</p>`;
  if (o.ask) inner += `${HOW_TO_OPEN}${ASK_FORM}`;
  return shell(status, title, inner, o.waiting ? `<meta http-equiv="refresh" content="2">` : "");
}

const TYPES: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "icon.svg": "image/svg+xml",
};

/**
 * Static code and styles (no data in them), so no session is needed; a URL naming this build's version is cached for
 * good. Another version's (a page loaded from the daemon before an upgrade, asking after its restart) gets this build's
 * file uncached: kept for good under the old name, it would stand in for the old file after a downgrade.
 */
export async function dashboardAsset(name: string, version: string | null): Promise<Response | null> {
  // Own keys only: "constructor" or "__proto__" is no file (an inherited property answered 200 with the icon).
  const type = Object.hasOwn(TYPES, name) ? TYPES[name] : undefined;
  if (!type) return null;
  const a = await assets();
  const body = name === "app.js" ? a.DASHBOARD_JS : name === "app.css" ? a.DASHBOARD_CSS : a.ICON_SVG;
  return new Response(body, {
    headers: {
      "content-type": type,
      "x-content-type-options": "nosniff",
      "cache-control": version === a.ASSET_VERSION ? "public, max-age=31536000, immutable" : "no-cache",
      etag: `"${a.ASSET_VERSION}"`,
    },
  });
}

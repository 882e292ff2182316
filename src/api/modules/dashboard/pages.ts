// The dashboard's HTTP responses: the page (with this session's CSRF token), its assets, and the plain pages shown without a session.
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

/** A page without script for "no session" and "link expired": says what to run, nothing more. */
export async function plainPage(status: number, title: string, message: string): Promise<Response> {
  const { ASSET_VERSION } = await assets();
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><title>${escapeHtml(title)} — CloudToLocalLLM tunnel</title><link rel="icon" href="/dashboard/icon.svg" type="image/svg+xml"><link rel="stylesheet" href="/dashboard/app.css?v=${ASSET_VERSION}"></head><body><main class="plain"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p>Run <code>cloudtolocalllm-tunnel dashboard</code> in a terminal, or choose <strong>Open dashboard</strong> in the tray menu: it opens a fresh sign-in link.</p></main></body></html>`;
  return new Response(html, { status, headers: PAGE_HEADERS });
}

const TYPES: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "icon.svg": "image/svg+xml",
};

/** Static code and styles (no data in them), so no session is needed; versioned URLs are cached for good. */
export async function dashboardAsset(name: string, versioned: boolean): Promise<Response | null> {
  const type = TYPES[name];
  if (!type) return null;
  const a = await assets();
  const body = name === "app.js" ? a.DASHBOARD_JS : name === "app.css" ? a.DASHBOARD_CSS : a.ICON_SVG;
  return new Response(body, {
    headers: {
      "content-type": type,
      "x-content-type-options": "nosniff",
      "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
      etag: `"${a.ASSET_VERSION}"`,
    },
  });
}

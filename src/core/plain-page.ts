// The plain page a short-lived loopback listener answers a browser with (the PKCE callback, the private sign-in link).

export const authPage = (title: string, text: string, status = 200) =>
  new Response(`<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${text}</p>`, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });

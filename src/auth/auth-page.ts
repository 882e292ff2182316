// The plain pages the sign-in's loopback listeners answer a browser with (the PKCE callback, the private link).

export const authPage = (title: string, text: string, status = 200) =>
  new Response(`<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${text}</p>`, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });

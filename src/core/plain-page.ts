// The plain page a short-lived loopback listener answers a browser with (the PKCE callback, the private sign-in link).

export const authPage = (title: string, text: string, status = 200) =>
  new Response(`<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${text}</p>`, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });

/** A 400 as plain text: its sentence may quote what the client sent (a Host header), which authPage would not escape. */
export const plainRefusal = (text: string) =>
  new Response(`${text}\n`, { status: 400, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });

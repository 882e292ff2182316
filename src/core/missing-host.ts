// Requests without a Host header (HTTP/1.0 allows leaving it out): Bun then hands over a bare "/path" as req.url, which no URL parser takes.

/** The sentence every listener answers (400) to a request without Host. */
export const MISSING_HOST_MESSAGE = "the request has no Host header (HTTP/1.0 without Host); send Host, e.g. \"Host: 127.0.0.1\"";

/** Whether Bun received the request without a Host header: its URL is then the bare request target, not absolute. */
export function lacksHost(req: Request): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(req.url);
}

/** The request target of such a request, without its query ("/api/tags"), for choosing the error's dialect. */
export function bareTargetPath(req: Request): string {
  const q = req.url.indexOf("?");
  return q < 0 ? req.url : req.url.slice(0, q);
}

// The path and query of an absolute request URL (req.url), by slicing: cheaper than new URL() on the proxy's hot path.

/** Index of the path's first "/" in "scheme://host/path?query", or -1 when there is no path. */
function pathStart(url: string): number {
  return url.indexOf("/", url.indexOf("//") + 2);
}

/** "/path" without the query; "/" when the URL has no path. */
export function urlPath(url: string): string {
  const start = pathStart(url);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/** "?query" (empty when there is none). */
export function urlSearch(url: string): string {
  const start = pathStart(url);
  const q = start < 0 ? -1 : url.indexOf("?", start);
  return q < 0 ? "" : url.slice(q);
}

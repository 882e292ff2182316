// The one check every listener makes before routing: requests Bun's parser hands over that no server should act on.
//
// Bun refuses most framing tricks itself (Content-Length with Transfer-Encoding, differing Content-Lengths, any coding
// but chunked, bare CR, obs-fold; tests/foundation/request-smuggling.test.ts). It merges repeated headers, though, so two
// Host lines or two equal Content-Lengths arrive as one value with a comma, a request without Host (HTTP/1.0 allows
// it) arrives with a bare "/path" as req.url, which no URL parser takes, and a fragment ("/api/pull#x") stays in req.url.
import { urlPath } from "./url-path.ts";

/** The sentence every listener answers (400) to a request without Host. */
export const MISSING_HOST_MESSAGE = "the request has no Host header (HTTP/1.0 without Host); send Host, e.g. \"Host: 127.0.0.1\"";

/** The sentence every listener answers (400) to CONNECT. */
export const CONNECT_MESSAGE =
  "CONNECT is not supported: this is an HTTP API, not a proxy (a client with it as HTTPS_PROXY sends CONNECT); call its URL directly";

/**
 * Why Bun handed over a bare request target: no Host header at all, or one it could not make a URL of ("a b",
 * "evil@127.0.0.1", "127.0.0.1/x"), which is named, not called missing.
 */
export function bareTargetProblem(req: Request): string {
  // CONNECT's target is an authority ("127.0.0.1:11435"), not a path: a client that was given this server as its proxy.
  if (req.method === "CONNECT") return CONNECT_MESSAGE;
  const host = req.headers.get("host");
  if (host === null) return MISSING_HOST_MESSAGE;
  return `the Host header ${JSON.stringify(host.slice(0, 100))} is not a host name or address with an optional port; send e.g. "Host: 127.0.0.1:8765"`;
}

/** Whether Bun received the request without a usable Host header: its URL is then the bare request target, not absolute. */
export function lacksHost(req: Request): boolean {
  return bareTarget(req.url);
}
function bareTarget(url: string): boolean {
  // Bun's absolute URLs start with its own scheme: no regular expression for them (every request of every listener).
  if (url.startsWith("http://") || url.startsWith("https://")) return false;
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(url);
}

/** What is wrong with a request before any route sees it (answered 400), or null. */
export function requestProblem(req: Request): string | null {
  const url = req.url;
  if (bareTarget(url)) return bareTargetProblem(req);
  // A request target has no fragment (RFC 9112 §3.2; clients strip it), but Bun keeps one in req.url: "/api/pull#x" was
  // not /api/pull to the broker's rules, while an upstream that drops the fragment (uvicorn's httptools, Node, Bun)
  // served /api/pull or /v1/chat/completions uncounted. Refused, so no server in the chain reads it its own way.
  if (url.includes("#")) return "the request target has a fragment (#…), which HTTP requests never carry; send the path without it";
  // A comma is never part of one host, and RFC 9112 §3.2 answers more than one Host line with 400.
  if (req.headers.get("host")?.includes(",")) return "the request has more than one Host header (or a comma in it); send exactly one";
  // RFC 9110 §8.6 lets a server accept "4, 4", but an intermediary that took the first and one that took the last
  // would disagree about where the body ends: refused, like a hand-written parser refuses it.
  if (req.headers.get("content-length")?.includes(",")) return "the request has more than one Content-Length; send exactly one";
  return null;
}

/**
 * A POST/PUT/PATCH that declared no body framing at all (an HTTP/1.0 client that closes the connection to end its body):
 * HTTP/1.x has no close-delimited request bodies, so Bun reads none, and forwarding it as an empty one would get a
 * misleading answer (e.g. "model not found") from the upstream. The headers first: asking for req.body makes Bun build
 * a ReadableStream, which a framed request never needs here.
 */
export function unframedBody(req: Request): boolean {
  const m = req.method;
  return (m === "POST" || m === "PUT" || m === "PATCH") && !req.headers.has("content-length") && !req.headers.has("transfer-encoding") && req.body === null;
}

/** The sentence the broker and the relay answer (400) to an unframed body. */
export const unframedMessage = (method: string): string =>
  `the ${method} request has no Content-Length or Transfer-Encoding, so it has no body; send the body with a Content-Length or Transfer-Encoding: chunked (a body that ends when the connection closes is not read)`;

/** The request's path without the query (or a fragment), for choosing the error's dialect ("/api/tags"): also for a bare target. */
export function requestPath(req: Request): string {
  const url = req.url;
  const path = lacksHost(req) ? url.split("?", 1)[0]! : urlPath(url);
  return path.split("#", 1)[0]!;
}

/** The answer to such a request, with the connection closed after it: where its body ends is not to be trusted. */
export function closing(res: Response): Response {
  res.headers.set("connection", "close");
  return res;
}

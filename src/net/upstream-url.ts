// An upstream's configured URL as requests use it: the base every path is appended to, and the query (Azure's
// `?api-version=…`, a gateway's `?tenant=…`) merged onto every request sent there, probes and model lists included.

export interface UpstreamUrl {
  /** Scheme, authority and path, without the query and trailing slashes: `http://host:8080/openai`. */
  readonly base: string;
  /** The configured query without its `?` ("" for none), as written. */
  readonly query: string;
  /** Its parameter names (decoded): a caller's parameter of one of these names is dropped, the operator's value wins. */
  readonly names: ReadonlySet<string>;
}

function decodedName(pair: string): string {
  const eq = pair.indexOf("=");
  const raw = eq < 0 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

/** The base and query of an upstream URL (a fragment is dropped: no HTTP client sends one, and appended paths must not land in it). */
export function splitUpstreamUrl(url: string): UpstreamUrl {
  const noFragment = url.split("#", 1)[0]!;
  const q = noFragment.indexOf("?");
  const base = (q < 0 ? noFragment : noFragment.slice(0, q)).replace(/\/+$/, "");
  const query = q < 0 ? "" : noFragment.slice(q + 1).replace(/^&+|&+$/g, "");
  const names = new Set(query === "" ? [] : query.split("&").filter((p) => p !== "").map(decodedName));
  return { base, query, names };
}

/**
 * A request target (path and the caller's query) with the upstream's query merged on: the caller's parameters first,
 * less those the upstream's URL sets, then the upstream's. The target itself when the URL has no query (no work then).
 */
export function withUpstreamQuery(target: string, u: UpstreamUrl): string {
  if (u.query === "") return target;
  const q = target.indexOf("?");
  if (q < 0) return `${target}?${u.query}`;
  const kept = target
    .slice(q + 1)
    .split("&")
    .filter((p) => p !== "" && !u.names.has(decodedName(p)));
  return `${target.slice(0, q)}?${kept.length ? `${kept.join("&")}&` : ""}${u.query}`;
}

/** The full URL for `path` on an upstream configured at `url`: what probes and the doctor fetch. */
export function upstreamRequestUrl(url: string, path: string): string {
  const u = splitUpstreamUrl(url);
  return u.base + withUpstreamQuery(path, u);
}

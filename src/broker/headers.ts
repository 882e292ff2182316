// Header rules between a client and an upstream: what is dropped, what is rewritten, whose credentials go where.
import { KEY_PREFIX } from "../core/key-format.ts";
import { HOP_BY_HOP } from "../net/hop-by-hop.ts";
import { ORIGIN_WIDE_HEADERS } from "../net/origin-wide-headers.ts";
import type { Upstream } from "./upstream.ts";
import type { HeaderJson } from "../net/captured-headers.ts";

/**
 * Never forwarded upstream: hop-by-hop headers (RFC 9110 §7.6.1), Host (fetch sets the upstream's own), Origin
 * (the broker checks it; the upstream would refuse a foreign one) and Referer (a page's origin or URL, which no upstream
 * needs: a remote one would learn which local page the user is on), the client's credentials (they were meant for the
 * broker, never for whichever upstream is picked), Accept-Encoding (streams pass through uncompressed so they flush
 * chunk by chunk) and Content-Length (fetch sets it from the body it actually sends). Nor any header holding a gateway
 * key (`c2l_…`): the gateway reads a key from any header (src/gateway/admission.ts), so every one of them is a credential.
 * Nor our own `x-c2l-*` headers (isOwnHeader): they are meant for the broker or a relay hop, never for an upstream.
 */
const DROP_REQUEST = new Set<string>([
  ...HOP_BY_HOP,
  "proxy-authenticate",
  "proxy-authorization",
  "host",
  "origin",
  "referer",
  "authorization",
  "x-api-key",
  // Azure OpenAI's key header (its SDKs send it): a credential of the client's like the two above.
  "api-key",
  // Google's API key header (its Gemini SDKs send it; Google's front end reads it on the OpenAI-compatible routes too):
  // a client's Google key, meant for the broker like the others, would bill the client's project (or reach the
  // operator's upstream's logs) beside, or instead of, the operator's auth_secret.
  "x-goog-api-key",
  "cookie",
  "accept-encoding",
  "content-length",
  "expect",
]);

/**
 * Headers that choose, within the credential that goes with them, whose account a call is billed to or what it may
 * reach. Dropped when the broker puts the operator's own credential on the request (`auth_secret`, or a user and
 * password in the upstream's URL, sent as Basic auth): a caller holding only a gateway key does not choose which of the
 * operator's organisations, projects or Google quota projects pays, nor turn on Anthropic betas the operator did not
 * (some bill at other rates, `context-1m-…`, `extended-cache-ttl-…`; some reach what is stored in the operator's
 * workspace, `files-api-…`). LiteLLM's proxy likewise forwards `OpenAI-Organization` only when the operator sets
 * `forward_openai_org_id`, and `anthropic-beta` only for model groups the operator opened to client headers. Without an
 * operator credential these pass as sent. One table for every kind: each name is one vendor's, and an upstream of kind
 * `openai` may be any vendor's API.
 */
const ACCOUNT_SELECTING = new Set<string>([
  // OpenAI (and OpenAI-compatible APIs that copy it): the organisation and project the call is billed to.
  "openai-organization",
  "openai-project",
  // Google's OpenAI-compatible Gemini API: the project whose quota and bill the call counts against.
  "x-goog-user-project",
  // Anthropic: the beta features of the operator's account the call may use.
  "anthropic-beta",
]);

/** The CORS answer headers (the browser reads them as the server's grant). */
const CORS_RESPONSE_HEADERS = [
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-allow-headers",
  "access-control-allow-methods",
  "access-control-allow-private-network",
  "access-control-expose-headers",
  "access-control-max-age",
];

/**
 * Never passed back to the client: hop-by-hop, and the framing headers Bun sets itself for the relayed body; nor what
 * acts on the broker's whole host in a browser (cookies, Clear-Site-Data, HSTS ...: src/net/origin-wide-headers.ts).
 * Content-Encoding stays: bytes are relayed untouched (fetch runs with decompress: false).
 */
const DROP_RESPONSE = new Set<string>([
  ...HOP_BY_HOP,
  ...ORIGIN_WIDE_HEADERS,
  "proxy-authenticate",
  "content-length",
  "set-cookie",
  "date",
  // Which pages may read an answer is the broker's decision ([proxy] allowed_origins, src/broker/listener.ts), as at
  // the relay: an upstream's own "*" or credentials grant never reaches a browser.
  ...CORS_RESPONSE_HEADERS,
]);

/**
 * Whether the operator's credential goes with requests to this upstream: its auth_secret, or credentials written into
 * its URL (`https://user:pass@host`), which HTTP clients send as `Authorization: Basic …` just the same.
 */
function sendsOperatorCredential(u: Upstream): boolean {
  return !!u.authValue || (u.urlSecrets !== undefined && u.urlSecrets.length > 0);
}

/**
 * Our own headers (`x-c2l-*`): a relay's hop and resume marks (the entry node, the relay's client, the resume window),
 * the inspector's replay mark. They say how the request travelled, which is nobody's business upstream; none is meant
 * for an upstream. One character decides for nearly every name (allocation-free on the hot path).
 */
function isOwnHeader(name: string): boolean {
  return name.charCodeAt(0) === 120 /* x */ && name.startsWith("x-c2l-");
}

export function upstreamHeaders(client: Headers | null, u: Upstream): Headers {
  const out = new Headers();
  if (client) {
    // Headers named in Connection are hop-by-hop too.
    const conn = client.get("connection");
    const extra = conn ? conn.toLowerCase().split(",").map((s) => s.trim()) : null;
    const account = sendsOperatorCredential(u) ? ACCOUNT_SELECTING : null;
    for (const [k, v] of client) if (!DROP_REQUEST.has(k) && !isOwnHeader(k) && !(extra && extra.includes(k)) && !account?.has(k) && !v.includes(KEY_PREFIX)) out.set(k, v);
  }
  out.set("accept-encoding", "identity");
  if (u.authValue) out.set(u.config.auth_header, u.authValue);
  return out;
}

/**
 * The fields an upstream's Connection header names (RFC 9110 §7.6.1: hop-by-hop too, removed by a proxy), or null for
 * none beyond the usual keep-alive or close (nearly every answer: no array for them).
 */
function connectionNamed(value: string | null): string[] | null {
  if (value === null) return null;
  const v = value.toLowerCase();
  if (v === "keep-alive" || v === "close") return null;
  return v.split(",").map((s) => s.trim());
}

export function clientHeaders(upstream: Headers): Headers {
  const out = new Headers();
  const named = connectionNamed(upstream.get("connection"));
  for (const [k, v] of upstream) if (!DROP_RESPONSE.has(k) && !named?.includes(k)) out.set(k, v);
  return out;
}

/**
 * The same rules as upstreamHeaders, as raw header lines for the HTTP/1.1 client ("name: value\r\n" each).
 * Values come from Bun's parser (no CR/LF possible); the upstream credential is checked here.
 */
export function upstreamHeaderLines(client: Headers | null, u: Upstream, json: HeaderJson | null = null): string {
  let out = "";
  if (client) {
    // Read once per request: the request record copies the same object (src/net/captured-headers.ts).
    const all = json ?? (client.toJSON() as HeaderJson);
    const conn = all.connection as string | undefined;
    const extra = conn ? conn.toLowerCase().split(",").map((s) => s.trim()) : null;
    // The upstream's own credential header, when it has one, is the operator's: a client's line of that name went out
    // before it, and Go's Header.Get (and most servers) read the first line.
    const own = u.authValue ? u.config.auth_header.toLowerCase() : null;
    // The operator's credential goes: the caller does not choose whose account of it pays (ACCOUNT_SELECTING).
    const account = sendsOperatorCredential(u) ? ACCOUNT_SELECTING : null;
    for (const k in all) {
      if (DROP_REQUEST.has(k) || isOwnHeader(k) || (extra && extra.includes(k)) || k === own || account?.has(k)) continue;
      const v = all[k]!;
      const line = typeof v === "string" ? v : v.join(", ");
      if (line.includes(KEY_PREFIX)) continue;
      out += `${k}: ${line}\r\n`;
    }
  }
  out += "accept-encoding: identity\r\n";
  if (u.authValue) {
    if (/[\r\n]/.test(u.authValue)) throw new Error(`the auth secret of upstream "${u.name}" contains a line break`);
    out += `${u.config.auth_header}: ${u.authValue}\r\n`;
  }
  return out;
}

/** clientHeaders for a flat [name, value, ...] list (names in lower case). */
export function clientHeadersOf(flat: string[]): Headers {
  const out = new Headers();
  let conn: string | null = null;
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === "connection") conn = conn === null ? flat[i + 1]! : `${conn},${flat[i + 1]}`;
  const named = connectionNamed(conn);
  for (let i = 0; i < flat.length; i += 2) if (!DROP_RESPONSE.has(flat[i]!) && !named?.includes(flat[i]!)) out.append(flat[i]!, flat[i + 1]!);
  return out;
}

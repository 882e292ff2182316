// The one redaction of URLs wherever one is shown (status, events, logs, metrics, the dashboard, config export): credentials and query values hidden.
//
// What is hidden:
//   - userinfo: the password ("user:redacted@"), or a user name that stands alone ("redacted@", often a token);
//   - the value of every query parameter whose name holds a credential-like word anywhere in it (SECRET_NAME:
//     api_key, apikey, x-api-key, access_token, client_secret, sig, X-Amz-Signature, password, auth, code, ...),
//     and a bare "?TOKEN" without a name; other values ("region=eu") stay, so an exported config still round-trips;
//   - a fragment ("#redacted").
// Scheme, host, port, path and parameter names stay, byte for byte, so the URL is still recognisable.

/** Words that make a query parameter's value secret wherever they appear in its name (matched as substrings, case-insensitively). */
export const SECRET_NAME = /key|token|secret|pass|pwd|auth|sig|cred|session|jwt|bearer|code|otp|nonce|hash/i;

/** What replaces a hidden part inside a URL (no brackets: they would need escaping in a URL). */
export const URL_REDACTED = "redacted";

const URL_RE = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/is;

/** "%61pi_key" is api_key to the server that reads it. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/** A URL with its secrets hidden; anything that is not an absolute URL ("scheme://…") comes back unchanged. */
export function redactUrl(url: string): string {
  const m = URL_RE.exec(url);
  if (!m) return url;
  const [, scheme, authority = "", path = "", query, fragment] = m;
  let auth = authority;
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const info = authority.slice(0, at);
    const colon = info.indexOf(":");
    auth = (colon >= 0 ? `${info.slice(0, colon)}:${URL_REDACTED}` : URL_REDACTED) + authority.slice(at);
  }
  let q = query ?? "";
  if (q.length > 1)
    q =
      "?" +
      q
        .slice(1)
        .split("&")
        .map((p) => {
          const eq = p.indexOf("=");
          if (eq < 0) return p === "" ? p : URL_REDACTED;
          const name = p.slice(0, eq);
          return eq === p.length - 1 || !SECRET_NAME.test(safeDecode(name)) ? p : `${name}=${URL_REDACTED}`;
        })
        .join("&");
  const f = fragment && fragment.length > 1 ? `#${URL_REDACTED}` : (fragment ?? "");
  return `${scheme}${auth}${path}${q}${f}`;
}

// A URL inside free text ends at white space, a quote or an angle bracket (JSON strings, log fields, HTML attributes).
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`\\]+/gi;

/** Redacts every URL inside a text (a log line, an error message, a serialized JSON document). */
export function redactUrlsIn(text: string): string {
  if (!text.includes("://")) return text;
  return text.replace(URL_IN_TEXT, (m) => {
    // Sentence punctuation after a URL ("(see http://x?a=b).") belongs to the text, not to the URL.
    const trail = /[).,;:\]}]+$/.exec(m)?.[0] ?? "";
    return redactUrl(m.slice(0, m.length - trail.length)) + trail;
  });
}

/** A deep copy of a JSON-like value with every URL inside its strings redacted (status objects, events). */
export function redactUrlsDeep<T>(value: T): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redactUrlsIn(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object" && !(v instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

/** Whether a string still holds a part hidden by redactUrl() (a redacted config sent back must not overwrite the real secret). */
export function holdsRedactedUrlPart(s: string): boolean {
  return new RegExp(`(^|[:/])${URL_REDACTED}@|=${URL_REDACTED}(&|#|$)|[?&]${URL_REDACTED}(&|#|$)|#${URL_REDACTED}$`).test(s);
}

// Hides inline secrets in a parsed config (for export and display): secret-named keys, and URLs through the one URL redaction (net/redact-url.ts).
import { isInlineSecret } from "./inline-secrets.ts";
import { redactUrl } from "../net/redact-url.ts";

const SECRET_KEY = /token|secret|password|passwd|api[_-]?key|(^|_)key$/i;
// These name a secret in the store or a file holding it; the value itself is not secret...
const REFERENCE_KEY = /(_secret|_file|_path|_name|_header|_scheme)$/i;
// ...except a secret pasted where its name belongs (the store still accepts it, with a warning).
const SECRET_REF_KEY = /_secret$/i;
// Settings whose names say "key" but hold a choice, never a credential ([proxy] require_key = "auto").
const NOT_SECRET_KEY = /^require_key$/i;

export const REDACTED = "[redacted]";

/** Returns a deep copy with inline secrets replaced, and the dotted paths that were redacted. */
export function redactSecrets<T>(value: T): { value: T; redacted: string[] } {
  const redacted: string[] = [];
  const walk = (v: unknown, path: string, key: string): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`, key));
    if (v && typeof v === "object" && !(v instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, path ? `${path}.${k}` : k, k);
      return out;
    }
    if (typeof v === "string" && v !== "") {
      if (SECRET_KEY.test(key) && !NOT_SECRET_KEY.test(key) && (!REFERENCE_KEY.test(key) || (SECRET_REF_KEY.test(key) && isInlineSecret(v)))) {
        redacted.push(path);
        return REDACTED;
      }
      const r = redactUrl(v);
      if (r !== v) redacted.push(path);
      return r;
    }
    return v;
  };
  return { value: walk(value, "", "") as T, redacted };
}

// Inline secrets: a config field meant to name a secret that holds the secret itself (still works, with a warning).
import type { Config } from "./schema.ts";
import { NAME_PATTERN } from "./secret-names.ts";

// Shapes of credentials people paste: JWTs, vendor-prefixed API keys, long random strings, long hex.
const JWT = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// c2l: the gateway's own keys (src/gateway/keys.ts), which the shape rules below miss about once in 5,000.
const VENDOR_KEY = /^(sk|pk|rk|ghp|gho|ghs|glpat|xox[abpr]|hf|c2l)[-_][A-Za-z0-9_-]{8,}$/;
// `openssl rand -hex 32`, and keys that are a short prefix and hex ("pplx-…").
const HEX_KEY = /^(?:[a-z]{2,8}[-_])?(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{32,}$/i;

/** Capitals right after a lower-case letter or a digit: random text has many ("qHmj4FSd…"), names made of words few. */
function innerCapitals(s: string): number {
  let n = 0;
  for (let i = 1; i < s.length; i++) if (/[A-Z]/.test(s[i]!) && /[a-z0-9]/.test(s[i - 1]!)) n++;
  return n;
}

/** True when `s` has the shape of a credential (a JWT, a vendor-prefixed key, a long random or hex string). */
function looksLikeCredential(s: string): boolean {
  if (JWT.test(s) || VENDOR_KEY.test(s) || HEX_KEY.test(s)) return true;
  if (s.length < 32 || !/[a-z]/.test(s) || !/[A-Z]/.test(s)) return false;
  const digits = s.replace(/\D/g, "").length;
  if (!/[-_./]/.test(s)) return digits > 0;
  // base64url (`relay hash-token --generate`, most API tokens) and prefixed keys ("gsk_…", "xai-…") hold - and _ too:
  // random between them, unlike a name of words ("AzureOpenAI-EastUS2-Deployment-GPT4o-Key"). Random text of 43
  // characters has about 7 digits and 10 inner capitals; one in 200 has fewer than two digits, so many inner capitals
  // alone also tell (before, that one in 200 was taken for a name and quoted in advice any local user reads).
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return false;
  const capitals = innerCapitals(s);
  return capitals >= 4 && (digits >= 2 || capitals >= 8);
}

/** True when a secret reference is not a name but a credential written straight into the config. */
export function isInlineSecret(ref: string): boolean {
  if (!ref) return false;
  if (!NAME_PATTERN.test(ref)) return true;
  return looksLikeCredential(ref);
}

/**
 * `text` with each credential-shaped word replaced by "[redacted]". A value a config issue quotes (a key pasted into
 * `url`, a token into `relay_url`) reaches the log, the open /api/v1/status and events, and notify-send's arguments.
 */
export function hideCredentials(text: string): string {
  return text.replace(/[A-Za-z0-9._~+/=-]{16,}/g, (w) => (looksLikeCredential(w) ? "[redacted]" : w));
}

/** Dotted paths of the config fields that hold an inline secret. */
export function inlineSecretFields(config: Partial<Pick<Config, "tunnel" | "upstreams">>): string[] {
  const out: string[] = [];
  if (config.tunnel && isInlineSecret(config.tunnel.token_secret)) out.push("tunnel.token_secret");
  config.upstreams?.forEach((u, i) => {
    if (isInlineSecret(u.auth_secret)) out.push(`upstreams[${i}].auth_secret`);
  });
  return out;
}

export function inlineSecretWarning(fields: string[]): string | null {
  if (!fields.length) return null;
  return `The config holds a secret value instead of a secret name in ${fields.join(", ")}: it works, but move it to the keyring with \`cloudtolocalllm-tunnel secret set NAME\` and put NAME there.`;
}

/**
 * The `secret set` command a message gives for the secret reference in `field`. A reference that is itself a credential
 * is never quoted: such messages reach status and /metrics (open to every local user), alerts and desktop notifications
 * (notify-send's arguments, which `ps` shows); the command then names `name` to store it under instead.
 */
export function secretSetAdvice(ref: string, field: string, name: string): string {
  if (!isInlineSecret(ref)) return `\`cloudtolocalllm-tunnel secret set ${ref}\``;
  return `\`cloudtolocalllm-tunnel secret set ${name}\` and set ${field} = "${name}" (it holds the credential itself now)`;
}

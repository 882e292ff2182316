// The credential a URL's userinfo (`https://user:pass@host/…`) carries, in each spelling an upstream may quote it back.

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The secrets of a URL's userinfo, or none: the password as written and decoded, and the `Basic` token HTTP clients
 * make of it (RFC 7617: base64 of `user:password`), which is what the upstream actually receives and may quote. A user
 * name that stands alone (`https://TOKEN@host`) is a token in itself (redact-url.ts hides it too); a user name beside a
 * password is not secret by itself and stays. Computed once per upstream setup, never per request.
 */
export function urlCredentialSecrets(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const { username, password } = parsed;
  if (!username && !password) return [];
  const out = new Set<string>();
  const user = safeDecode(username);
  const pass = safeDecode(password);
  if (password) {
    out.add(password);
    out.add(pass);
  } else {
    out.add(username);
    out.add(user);
  }
  out.add(Buffer.from(`${user}:${pass}`).toString("base64"));
  return [...out].filter((s) => s !== "");
}

// An upstream's error answer with its own credential taken out: a server that quotes what it refused (a 401 body naming
// the Authorization or key it got) would otherwise show the operator's auth_secret (or URL password) to whoever called the broker.
import type { StreamTransform } from "./stream-transform.ts";
import type { Upstream } from "./upstream.ts";

export const REDACTED = "[redacted]";
/** Shorter secrets are not looked for: replacing a few common letters would garble the body and hide nothing. */
const MIN_SECRET = 4;

/**
 * The secrets the broker sends this upstream, longest first (one that holds another is replaced whole): its auth value
 * without the scheme, and the credential of its URL's userinfo in each spelling (Upstream.urlSecrets). Empty for none.
 */
function upstreamSecrets(u: Upstream): string[] {
  const out: string[] = [];
  const value = u.authValue;
  if (value) {
    const scheme = u.config.auth_scheme;
    out.push(scheme && value.startsWith(`${scheme} `) ? value.slice(scheme.length + 1) : value);
  }
  // Test doubles of Upstream may lack the field.
  if (u.urlSecrets) out.push(...u.urlSecrets);
  return out.filter((s) => s.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
}

/** Whether error answers of this upstream are redacted (it is sent a secret long enough to look for). */
export function redactsFor(u: Upstream | null): boolean {
  return u !== null && upstreamSecrets(u).length > 0;
}

/** Each secret as it is and as a JSON string spells it (a quote, backslash or control character is escaped there). */
function spellings(secrets: string[]): string[] {
  const out: string[] = [];
  for (const s of secrets) {
    out.push(s);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) out.push(escaped);
  }
  return out;
}

/**
 * `bytes` (an error answer read whole) with every occurrence of the upstream's secrets replaced by [redacted], as they
 * are and as a JSON string spells them. The same bytes when the upstream sends no secret or the body holds none of
 * them (no copy).
 */
export function redactUpstreamSecret(bytes: Uint8Array, u: Upstream | null): Uint8Array {
  const secrets = u ? upstreamSecrets(u) : [];
  if (secrets.length === 0 || bytes.byteLength < MIN_SECRET) return bytes;
  const needles = spellings(secrets);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!needles.some((n) => buf.indexOf(n) >= 0)) return bytes;
  let text = buf.toString("utf8");
  for (const n of needles) text = text.split(n).join(REDACTED);
  return new TextEncoder().encode(text);
}

/**
 * An error answer's headers with the upstream's secrets replaced by [redacted] where one quotes them: RFC 6750's
 * `WWW-Authenticate: Bearer error_description="…"` is free text, and a gateway may quote (or echo) what it refused there.
 */
export function redactHeaders(headers: Headers, u: Upstream | null): void {
  const secrets = u ? upstreamSecrets(u) : [];
  if (secrets.length === 0) return;
  const quoting: [string, string][] = [];
  for (const [name, value] of headers) if (secrets.some((s) => value.includes(s))) quoting.push([name, value]);
  for (const [name] of quoting) headers.delete(name);
  // Appended again one by one: two headers of one name (two WWW-Authenticate challenges) stay two.
  for (const [name, value] of quoting) {
    let v = value;
    for (const s of secrets) v = v.split(s).join(REDACTED);
    headers.append(name, v);
  }
}

/**
 * A streamed error answer (chunked, SSE) with the upstream's secrets replaced as it passes, or `inner` itself when the
 * upstream sends no secret. A secret split across chunks is still found: the last bytes of each chunk that could begin
 * one wait for the next (or for the end). Put in front of error answers only, so a success stream costs nothing here.
 */
export function redactingStream(u: Upstream | null, inner: StreamTransform | null): StreamTransform | null {
  const secrets = u ? upstreamSecrets(u) : [];
  if (secrets.length === 0) return inner;
  return new RedactingStream(spellings(secrets).map((n) => Buffer.from(n)), inner);
}

const NOTHING = new Uint8Array(0);
const REDACTED_BYTES = Buffer.from(REDACTED);

class RedactingStream implements StreamTransform {
  /** The tail of the last chunk that could be the start of a secret, held back until the next one shows. */
  private held: Buffer = Buffer.alloc(0);
  private readonly keep: number;

  constructor(
    private readonly needles: Buffer[],
    private readonly inner: StreamTransform | null,
  ) {
    this.keep = Math.max(...needles.map((n) => n.byteLength)) - 1;
  }

  get usage() {
    return this.inner?.usage ?? null;
  }
  get ownsUsage() {
    return this.inner?.ownsUsage;
  }
  get abandoned() {
    return this.inner?.abandoned;
  }

  push(chunk: Uint8Array): Uint8Array {
    return this.scan(this.inner ? this.inner.push(chunk) : chunk, false);
  }

  end(): Uint8Array {
    return this.scan(this.inner ? this.inner.end() : NOTHING, true);
  }

  private scan(chunk: Uint8Array, last: boolean): Uint8Array {
    const buf = this.held.byteLength ? Buffer.concat([this.held, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const parts: Uint8Array[] = [];
    let from = 0;
    for (;;) {
      // The earliest of the secret's spellings from here on.
      let at = -1;
      let len = 0;
      for (const n of this.needles) {
        const i = buf.indexOf(n, from);
        if (i >= 0 && (at < 0 || i < at)) (at = i), (len = n.byteLength);
      }
      if (at < 0) break;
      parts.push(buf.subarray(from, at), REDACTED_BYTES);
      from = at + len;
    }
    // A secret not yet whole can only start within the last keep bytes: those wait (none after the last match's end).
    const cut = last ? buf.byteLength : Math.max(from, buf.byteLength - this.keep);
    parts.push(buf.subarray(from, cut));
    this.held = Buffer.from(buf.subarray(cut));
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

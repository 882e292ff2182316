// A credential in the URL of a call to a tunnel (/t/ID/…, /me/…, /ollama/…): refused before anything reads or forwards it.
import { HttpError } from "../core/http-error.ts";
import { isKeyChar, KEY_PREFIX } from "../core/key-format.ts";
import { hashToken } from "./auth.ts";

/**
 * Query parameters a token rides in (the 1.x web app put its JWT in `?token=`): refused by name, whatever they hold.
 * Matched on the decoded name, in any case.
 */
export const URL_TOKEN_PARAMS: ReadonlySet<string> = new Set(["access_token", "token", "id_token", "jwt"]);

/** The relay's static tokens are random strings with no prefix (`relay hash-token --generate`): shorter runs are not hashed. */
const MIN_TOKEN = 8;
/** A JWT (three base64url parts, the first a JSON object's "{"), where it starts: at the text's start or after a non-token character. */
const JWT = /(?:^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./;
/**
 * What separates one token from another inside a value (`Bearer X`, `a,b`, a form's `+` for a space, `user:X`, JSON's
 * quotes): the value is hashed whole and piece by piece, so a token that holds one of these is still found whole.
 */
const PIECES = /[\s,+:;|=/"'<>()[\]{}]+/;
/**
 * Runs of the characters a generated token is made of (`relay hash-token --generate`: base64url). Any other character
 * around a token (a sentence's period, `x.KEY`, `KEY@host`, `~KEY`) is not part of it, so each run is hashed too.
 */
const TOKEN_RUNS = new RegExp(`[A-Za-z0-9_-]{${MIN_TOKEN},}`, "g");
/** Percent-escapes decoded again until none is left (`%2563` is `%63` is `c`), at most this many times. */
const DECODE_ROUNDS = 4;

/** `text` with each `%XX` decoded as a byte, again until stable, then read as UTF-8 (a malformed escape stays as written). */
function decoded(text: string): string {
  let s = text;
  for (let i = 0; i < DECODE_ROUNDS && s.indexOf("%") >= 0; i++) {
    const next = s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (next === s) break;
    s = next;
  }
  return s === text ? s : Buffer.from(s, "latin1").toString("utf8");
}

/** Whether `text` holds a gateway key (`c2l_…` at its start or after a character that cannot be part of one), as the broker finds one. */
function holdsGatewayKey(text: string): boolean {
  for (let at = text.indexOf(KEY_PREFIX); at >= 0; at = text.indexOf(KEY_PREFIX, at + KEY_PREFIX.length)) if (at === 0 || !isKeyChar(text.charCodeAt(at - 1))) return true;
  return false;
}

/**
 * The relay's check of a call's query: its static tokens (client keys, agent tokens, the admin token) are known only by
 * their sha256, so each token-like run of the query is hashed and looked up; JWTs and gateway keys are known by shape.
 * Run only for a call that has a query (most calls through a tunnel have none).
 */
export class UrlCredentials {
  private readonly hashes: ReadonlySet<string>;

  constructor(config: { admin_token_sha256: string; tunnels: { agent_token_sha256?: string; client_key_sha256: string[] }[] }) {
    const all = [config.admin_token_sha256, ...config.tunnels.flatMap((t) => [t.agent_token_sha256 ?? "", ...t.client_key_sha256])];
    this.hashes = new Set(all.filter(Boolean).map((h) => h.toLowerCase()));
  }

  /** Whether `text` (decoded) is, or holds, one of the relay's or the broker's credentials. */
  private holds(text: string): boolean {
    if (!text) return false;
    if (holdsGatewayKey(text) || JWT.test(text)) return true;
    if (!this.hashes.size) return false;
    if (text.length >= MIN_TOKEN && this.hashes.has(hashToken(text))) return true;
    const pieces = text.split(PIECES);
    if (pieces.length > 1) for (const p of pieces) if (p.length >= MIN_TOKEN && this.hashes.has(hashToken(p))) return true;
    for (const run of text.match(TOKEN_RUNS) ?? []) if (run !== text && !pieces.includes(run) && this.hashes.has(hashToken(run))) return true;
    return false;
  }

  /**
   * The 400 for a query (`?…`) that carries a credential, else null: one of the names a token rides in (named back), or
   * a credential by its value, in any parameter or spelling (escaped, twice escaped, `Bearer X`). The value is never
   * quoted, nor a parameter's name when the credential is that name.
   */
  refusal(search: string): HttpError | null {
    for (const raw of search.slice(search.startsWith("?") ? 1 : 0).split(/[&;]/)) {
      if (!raw) continue;
      const eq = raw.indexOf("=");
      const name = decoded(eq >= 0 ? raw.slice(0, eq) : raw);
      const value = eq >= 0 ? decoded(raw.slice(eq + 1)) : "";
      if (URL_TOKEN_PARAMS.has(name.toLowerCase()))
        return new HttpError("bad_request", `a token in the URL (?${name}=) is never accepted (URLs end up in logs and browser history): send it as an Authorization: Bearer header`);
      // A name such as `?<token>` (no "="), or `?<token>=1`: the credential is the name, which is not said; a token
      // with "=" in it (base64's padding, `?<token>==`) is found in the whole part.
      const where = this.holds(name)
        ? "as a parameter's name"
        : this.holds(value)
          ? `?${name.length > 64 ? name.slice(0, 64) + "…" : name}=…`
          : eq >= 0 && this.holds(decoded(raw))
            ? "in a parameter"
            : null;
      if (where)
        return new HttpError(
          "bad_request",
          `the URL's query carries a credential (${where}); a credential is never read from the URL nor sent on (URLs end up in logs and browser history): send the relay's key or token as \`Authorization: Bearer …\`, a gateway key (c2l_…) as \`x-api-key\``,
        );
    }
    return null;
  }
}

// A gateway key in a request's query (`?key=c2l_…`): never read as the caller's key, never sent on to an upstream.
import { HttpError } from "../core/http-error.ts";
import { isKeyChar, KEY_PREFIX } from "../core/key-format.ts";

/**
 * The query as an upstream's parser reads it: each `%XX` decoded once, byte by byte (a key is ASCII, and a malformed
 * escape stays as written). `?key=%632l_…` is `c2l_…` to Ollama's, llama.cpp's and vLLM's servers alike.
 */
function decoded(search: string): string {
  return search.indexOf("%") < 0 ? search : search.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** The parameter (decoded, at most 64 characters) that holds the key at `at` in the decoded query. */
function paramAt(q: string, at: number): string {
  const start = Math.max(q.lastIndexOf("&", at), q.lastIndexOf("?", at)) + 1;
  const eq = q.indexOf("=", start);
  const name = eq >= 0 && eq < at ? q.slice(start, eq) : "";
  return name.length > 64 ? name.slice(0, 64) + "…" : name;
}

/**
 * The refusal of a query that carries a `c2l_` key (a token as the header scan finds one: at the start of a name or
 * value, or after a character that cannot be part of a key), else null. A key is read from headers only: one in a URL
 * lands in the upstream's own request log (Ollama's GIN lines print the query), in proxies' logs and in shell
 * history, so the call is refused before anything reads it, rather than run as a call without a key. Called only for
 * a request with a query (most have none); the value is never quoted back.
 */
export function queryKeyRefusal(search: string): HttpError | null {
  if (search.indexOf(KEY_PREFIX) < 0 && search.indexOf("%") < 0) return null;
  const q = decoded(search);
  for (let at = q.indexOf(KEY_PREFIX); at >= 0; at = q.indexOf(KEY_PREFIX, at + KEY_PREFIX.length)) {
    if (at > 0 && isKeyChar(q.charCodeAt(at - 1))) continue;
    const name = paramAt(q, at);
    return new HttpError(
      "bad_request",
      `the URL's query carries an API key (${name ? `?${name}=c2l_…` : "c2l_…"}); a key is never read from the URL nor sent on (URLs end up in logs): send it as \`Authorization: Bearer c2l_…\` or \`x-api-key\``,
    );
  }
  return null;
}

// CORS for browsers calling the relay: origin matching ([cors] allowed_origins, narrowed per tunnel), preflight answers
// given before authentication, and the headers every answer to an allowed origin carries, applied in one place (routes.ts).
import { ERROR_CODE_HEADER, HttpError } from "../core/http-error.ts";
import { EXPOSED_HEADERS } from "../core/exposed-headers.ts";

/** What a page may send: the relay's credentials (Bearer, or x-api-key clients), JSON bodies, the /me/ tunnel choice; the methods the routes take. */
const ALLOW_HEADERS = "Authorization, Content-Type, x-api-key, X-C2L-Tunnel";
/** A preflight's Access-Control-Request-Headers: comma-separated header names (tokens), nothing else. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9a-z-]+(?:\s*,\s*[!#$%&'*+.^_`|~0-9a-z-]+)*$/i;

/**
 * The headers a preflight allows: the relay's own, plus those the page asks for. The official clients send their own
 * (openai's and Anthropic's x-stainless-*, anthropic-version, anthropic-dangerous-direct-browser-access) and the browser
 * refuses the call unless each is allowed; an allowed origin may send any header a script could (the agent strips
 * what it must), so its list is granted.
 */
function allowHeaders(req: Request): string {
  const asked = req.headers.get("access-control-request-headers")?.trim();
  return asked && HEADER_LIST.test(asked) ? `${ALLOW_HEADERS}, ${asked}` : ALLOW_HEADERS;
}
const ALLOW_METHODS = "GET, HEAD, POST, PUT, DELETE";
const MAX_AGE = "600";

/**
 * Why an allowed_origins entry is unusable, or null: `scheme://host[:port]` with no path, or `https://*.domain` for any
 * subdomain. A bare `*` is refused: every page on the web could then use a key its visitor's browser holds.
 */
export function originEntryProblem(entry: string): string | null {
  if (entry === "*") return `"*" would let any web page call the relay with credentials; list the web app's origins (https://app.example.com), or a pattern such as https://*.example.com`;
  const m = /^(https?):\/\/(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/.exec(entry);
  if (!m) return `"${entry}" is not an origin: write scheme://host[:port] in lower case, with no path or trailing slash (e.g. https://app.example.com)`;
  if (m[2] && !m[3]!.includes(".")) return `"${entry}": a pattern needs a domain with at least two labels after "*." (e.g. https://*.example.com)`;
  return null;
}

/** True when `origin` (as a browser sends it) matches one entry: exactly, or as a subdomain of a `*.` pattern. */
export function originMatches(origin: string, entry: string): boolean {
  const o = origin.toLowerCase();
  const star = entry.indexOf("*.");
  if (star < 0) return o === entry;
  const scheme = entry.slice(0, star);
  const rest = entry.slice(star + 1); // ".example.com[:port]"
  return o.startsWith(scheme) && o.endsWith(rest) && o.length > scheme.length + rest.length && !o.slice(scheme.length, o.length - rest.length).includes(":") && !o.slice(scheme.length).includes("/");
}

/** True when every origin `entry` matches is matched by `outer` too (a tunnel's list narrowing the relay's). */
export function entryWithin(entry: string, outer: string): boolean {
  if (!entry.includes("*.")) return originMatches(entry, outer);
  if (!outer.includes("*.")) return false;
  const [scheme, rest] = entry.split("*") as [string, string];
  const [oScheme, oRest] = outer.split("*") as [string, string];
  return scheme === oScheme && (rest === oRest || rest.endsWith(oRest));
}

/** The parts of the relay config CORS reads (kept structural: config.ts validates with this module). */
export interface CorsSettings {
  cors: { allowed_origins: string[] };
  tunnels: { id: string; allowed_origins: string[] }[];
}

export interface RelayCors {
  /**
   * A preflight's answer, on [cors] alone: 204 for an allowed origin, the 403 to render (in the caller's dialect,
   * routes.ts) for another; null when `req` is not a preflight. A preflight carries no credentials: answered by the
   * tunnel's own list, it would tell anyone which tunnel ids exist and narrow [cors] (a 403 for them, a 204 for an id
   * that does not exist), so that list is applied to the call, once its key or token is checked (refusal()).
   */
  preflight(req: Request): Response | HttpError | null;
  /**
   * The 403 for a call (not a preflight) from an origin [cors] allows but tunnel `tunnelId`'s own list does not; null
   * otherwise. Asked once the caller is known as that tunnel's client (forward.ts, my-tunnel.ts): the call must not
   * reach the tunnel (a POST would run on the GPU though the page reads nothing).
   */
  refusal(req: Request, tunnelId: string): HttpError | null;
  /**
   * `res` with the CORS headers when the request came from an allowed origin; unchanged otherwise. An
   * origin_not_allowed answer never carries them: the page reads nothing of it.
   */
  decorate(req: Request, res: Response, tunnelId: string | null): Response;
}

/** `res` itself when its headers can change; a copy (same status and streamed body) when they cannot (a fetched answer). */
function writable(res: Response): Response {
  try {
    res.headers.delete("x-c2l-cors-probe");
    return res;
  } catch {
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }
}

export function createRelayCors(config: CorsSettings): RelayCors {
  const global = config.cors.allowed_origins;
  const perTunnel = new Map(config.tunnels.filter((t) => t.allowed_origins.length).map((t) => [t.id, t.allowed_origins]));
  /** Allowed by [cors] and, for a tunnel that narrows it, by the tunnel's own list too. */
  const allowed = (origin: string, tunnelId: string | null): boolean => {
    if (!global.some((e) => originMatches(origin, e))) return false;
    const narrow = tunnelId ? perTunnel.get(tunnelId) : undefined;
    return !narrow || narrow.some((e) => originMatches(origin, e));
  };
  const vary = (h: Headers, v: string) => {
    const have = (h.get("vary") ?? "").split(",").map((s) => s.trim().toLowerCase());
    if (!have.includes(v.toLowerCase())) h.append("vary", v);
  };

  const notAllowed = (origin: string, tunnelId: string | null) => {
    const where = tunnelId && perTunnel.has(tunnelId) ? `[cors] allowed_origins and tunnel "${tunnelId}"'s allowed_origins` : "[cors] allowed_origins";
    return new HttpError("origin_not_allowed", `the origin "${origin}" may not call this relay from a browser; the relay's operator adds it to ${where}`);
  };

  return {
    preflight(req) {
      if (req.method !== "OPTIONS") return null;
      const origin = req.headers.get("origin");
      if (origin === null || !req.headers.has("access-control-request-method")) return null;
      if (!allowed(origin, null)) return notAllowed(origin, null);
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": ALLOW_METHODS,
          "access-control-allow-headers": allowHeaders(req),
          "access-control-max-age": MAX_AGE,
          vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        },
      });
    },
    refusal(req, tunnelId) {
      // Most tunnels have no list of their own: no header read for them.
      if (!perTunnel.has(tunnelId)) return null;
      const origin = req.headers.get("origin");
      // An origin [cors] refuses was refused at its preflight (and the relay's own pages, the chat page, send one
      // [cors] need not list): only one [cors] let through, and this tunnel does not, is refused here.
      if (origin === null || allowed(origin, tunnelId) || !allowed(origin, null)) return null;
      return notAllowed(origin, tunnelId);
    },
    decorate(req, res, tunnelId) {
      const origin = req.headers.get("origin");
      // A 403's code is read only for an origin that would be decorated (a 403 through a tunnel is rare).
      const ok = origin !== null && allowed(origin, tunnelId) && !(res.status === 403 && res.headers.get(ERROR_CODE_HEADER) === "origin_not_allowed");
      // No array for the common answer that carries none (every call through the relay passes here).
      let theirs: string[] | null = null;
      for (const k of res.headers.keys()) if (k.startsWith("access-control-")) (theirs ??= []).push(k);
      if (!ok && !theirs) return res;
      const out = writable(res);
      // CORS is the relay's alone: a local server's own (an upstream answering "Access-Control-Allow-Origin: *")
      // never reaches a browser, or a page the relay refuses could read the tunnel's answers.
      for (const k of theirs ?? []) out.headers.delete(k);
      if (!ok) return out;
      out.headers.set("access-control-allow-origin", origin);
      out.headers.set("access-control-expose-headers", EXPOSED_HEADERS);
      vary(out.headers, "Origin");
      return out;
    },
  };
}

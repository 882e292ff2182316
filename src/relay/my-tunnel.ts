// The signed-in user's tunnel without its id: /me/<path> and /ollama/<path> (the 1.x cloud's route) pick the tunnel
// the caller's JWT subject owns and hand the call to the one forward path /t/ID/<path> takes (auth, limits, cluster).
import { HttpError } from "../core/http-error.ts";
import type { RelayAuth } from "./auth.ts";
import type { RelayCors } from "./cors.ts";
import type { Forwarders } from "./forward.ts";

/** Prefixes that mean "my tunnel": /ollama is what the 1.x web app called (/ollama/api/tags → the tunnel's /api/tags). */
const MY_PREFIXES = ["me", "ollama"];
const MY_ROUTE = new RegExp(`^/(?:${MY_PREFIXES.join("|")})(/.*)?$`);

/** Choosing among several tunnels of one subject: this header, or this query parameter (removed before forwarding). */
export const TUNNEL_HEADER = "x-c2l-tunnel";
export const TUNNEL_PARAM = "tunnel";

/** /me/<path> or /ollama/<path>: the path the tunnel's agent serves ("/" when there is none); errors in its dialect. */
export function myTunnelTarget(pathname: string): { path: string } | null {
  const m = MY_ROUTE.exec(pathname);
  return m ? { path: m[1] ?? "/" } : null;
}

/** The query's parameters as raw `k=v` parts, with their decoded names (a malformed escape keeps the raw name). */
function queryParts(search: string): { name: string; raw: string }[] {
  return search
    .replace(/^\?/, "")
    .split("&")
    .filter(Boolean)
    .map((raw) => {
      const k = raw.split("=")[0]!.replace(/\+/g, " ");
      try {
        return { name: decodeURIComponent(k), raw };
      } catch {
        return { name: k, raw };
      }
    });
}

export interface MyTunnelDeps {
  auth: RelayAuth;
  forward: Forwarders;
  cors: Pick<RelayCors, "refusal">;
}

/** The answer, and the tunnel it came from (null when refused before one was chosen): its own allowed_origins decide CORS. */
export interface MyTunnelAnswer {
  res: Response;
  tunnelId: string | null;
}

/**
 * A call to /me/<path> or /ollama/<path>: refused (counted in requests_total{status} like a /t/ID refusal), or
 * forwarded exactly as /t/ID/<path> would be, under the chosen tunnel's allowed_origins as /t/ID/<path> is.
 */
export async function myTunnel(req: Request, url: URL, target: { path: string }, deps: MyTunnelDeps): Promise<MyTunnelAnswer> {
  const parts = queryParts(url.search);
  const id = await chooseTunnel(req, parts, target.path, deps);
  if (typeof id !== "string") return { res: id, tunnelId: null };
  const refused = deps.cors.refusal(req, id);
  if (refused) return { res: deps.forward.refuse(refused, target.path), tunnelId: id };
  const rest = parts.filter((p) => p.name !== TUNNEL_PARAM).map((p) => p.raw);
  // The same forwarder as /t/ID/...: it authenticates again (the JWT's subject owns `id`), then limits and forwards.
  return { res: await deps.forward.client(req, id, target.path + (rest.length ? `?${rest.join("&")}` : "")), tunnelId: id };
}

/** The tunnel the caller's JWT subject owns and chose (the choice removed from the request), or the refusal. */
async function chooseTunnel(req: Request, parts: { name: string; raw: string }[], path: string, deps: MyTunnelDeps): Promise<string | Response> {
  // A token in the URL was refused before (routes.ts, url-credentials.ts), as on /t/ID/.
  const who = await deps.auth.user(req);
  if (!who.ok) return deps.forward.refuse(new HttpError("unauthorized", who.reason), path, { "www-authenticate": 'Bearer realm="relay"' });

  const owned = deps.auth.tunnelsOf(who.subject);
  const byHeader = req.headers.get(TUNNEL_HEADER);
  const byQuery = parts.filter((p) => p.name === TUNNEL_PARAM);
  const queryIds = [...new Set(byQuery.map((p) => new URLSearchParams(p.raw).get(TUNNEL_PARAM)!))];
  if (queryIds.length > 1) return deps.forward.refuse(new HttpError("bad_request", `?${TUNNEL_PARAM}= names different tunnels (${queryIds.join(", ")}): send one`), path);
  const byQueryId = queryIds[0] ?? null;
  if (byHeader !== null && byQueryId !== null && byHeader !== byQueryId)
    return deps.forward.refuse(new HttpError("bad_request", `the ${TUNNEL_HEADER} header ("${byHeader}") and ?${TUNNEL_PARAM}= ("${byQueryId}") name different tunnels: send one`), path);
  const chosen = byHeader ?? byQueryId;
  let id: string;
  if (chosen !== null) {
    // Only the caller's own ids are named back: whether another account's tunnel exists is not said.
    if (!owned.includes(chosen)) return deps.forward.refuse(new HttpError("not_found", `this account has no tunnel "${chosen}"; its tunnels: ${owned.join(", ")}`), path);
    id = chosen;
  } else if (owned.length > 1) {
    return deps.forward.refuse(new HttpError("bad_request", `this account has ${owned.length} tunnels (${owned.join(", ")}): choose one with the ${TUNNEL_HEADER} header or ?${TUNNEL_PARAM}=ID`), path);
  } else id = owned[0]!;

  // The choice is the relay's: neither the header nor any ?tunnel= goes on to the daemon (myTunnel drops the latter).
  req.headers.delete(TUNNEL_HEADER);
  return id;
}

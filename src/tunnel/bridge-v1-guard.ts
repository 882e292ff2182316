// What bridge-v1 refuses of a hostile bridge's request before the broker sees it: no id, a reused id, a path that is not canonical, too many at once.
import { HttpError } from "../core/http-error.ts";
import { TUNNEL_METHODS } from "./filter.ts";

/** Why a request is dropped without an answer (nothing could match it, or the id's answer is owed to the first); `kind` without the id, for the log's repeat limit. */
export type Ignored = { ignore: string; kind: "no_id" | "id_in_flight" };

export class BridgeGuard {
  private readonly inFlight = new Set<string>();

  constructor(private readonly maxStreams: number) {}

  /**
   * The request's path (with a leading "/", as 1.x servers sometimes omit it), or the answer to send instead, or
   * a reason to drop it. An admitted id must be released with done().
   */
  admit(id: unknown, method: string, rawPath: unknown): { path: string } | HttpError | Ignored {
    if (typeof id !== "string" || !id) return { ignore: "a request without an id (its answer could not be matched)", kind: "no_id" };
    // Two answers with one id: the bridge would match the second to whatever it pleases; the first keeps the id.
    if (this.inFlight.has(id)) return { ignore: `a request id already in flight (${JSON.stringify(id.slice(0, 64))})`, kind: "id_in_flight" };
    // Checked before the Request is built: Bun would make "G ET" or "FOO" a GET (filter.ts TUNNEL_METHODS).
    if (!TUNNEL_METHODS.has(method)) return new HttpError("method_not_allowed", `the method ${JSON.stringify(method.slice(0, 32))} is not an HTTP method the tunnel serves`);
    const raw = String(rawPath ?? "/");
    const path = raw.startsWith("/") ? raw : `/${raw}`;
    // URL parsing would resolve dot segments, backslashes and fragments into another (maybe allowed) path: the v2
    // protocol refuses such paths (filter.ts checkPath), and so does this one, before they become a Request.
    let u: URL;
    try {
      u = new URL(path, "http://bridge.invalid");
    } catch {
      return new HttpError("bad_request", "the tunnel request has an invalid path");
    }
    if (u.host !== "bridge.invalid" || u.pathname + u.search !== path) return new HttpError("forbidden", `the path ${JSON.stringify(path.slice(0, 200))} is not in canonical form`);
    if (this.inFlight.size >= this.maxStreams) return new HttpError("unavailable", `the agent is serving ${this.maxStreams} requests already ([tunnel] max_streams)`);
    this.inFlight.add(id);
    return { path };
  }

  done(id: string): void {
    this.inFlight.delete(id);
  }

  get size(): number {
    return this.inFlight.size;
  }
}

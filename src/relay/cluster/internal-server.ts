// A node's internal listener: what other nodes of the cluster call, and nothing else. Every request must carry a
// valid node signature (node-auth.ts); it serves calls for tunnels this node holds and this node's own tunnel list.
import type { Server } from "bun";
import { splitListen } from "../../config/listen.ts";
import { HttpError } from "../../core/http-error.ts";
import { logger } from "../../core/log.ts";
import { tunnelTarget } from "../routes.ts";
import { NODE_AUTH_HEADER, verifyNodeRequest } from "./node-auth.ts";

const log = logger("relay");

export interface InternalHandlers {
  secret: Uint8Array;
  /** A call another node sent here for tunnel `id` (path: the part after /t/ID, with its query). */
  tunnel(req: Request, id: string, path: string): Promise<Response>;
  /** This node's own tunnels, for a cluster-wide listing. */
  tunnels(): unknown;
}

export function startInternalServer(listen: string, h: InternalHandlers): Server<undefined> {
  const { hostname, port } = splitListen(listen);
  return Bun.serve({
    hostname,
    port,
    idleTimeout: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req) {
      const url = new URL(req.url);
      const v = verifyNodeRequest(h.secret, req.headers.get(NODE_AUTH_HEADER), req.method, url.pathname + url.search);
      if (!v.ok) {
        log.warn("internal request refused", { reason: v.reason, path: url.pathname });
        return new HttpError("unauthorized", `node-to-node request refused: ${v.reason}`).toResponse();
      }
      if (url.pathname === "/internal/tunnels" && req.method === "GET") return Response.json(h.tunnels());
      const t = url.pathname.startsWith("/internal/t/") ? tunnelTarget(url.pathname.slice("/internal".length)) : null;
      if (t) return h.tunnel(req, t.id, t.path + url.search);
      return new HttpError("not_found", `no internal route for ${url.pathname}`).toResponse();
    },
  });
}

// A node's internal listener: what other nodes of the cluster call, and nothing else. Every request must carry a
// valid, first-seen node signature over the whole request (node-auth.ts); what is served is rebuilt from the signed
// parts only (signed headers, the body's verified frames): calls for tunnels this node holds, its tunnel list, and
// whether it reaches Redis.
import type { Server } from "bun";
import { bindAddress } from "../../config/listen.ts";
import { RepeatLimit } from "../../core/repeat-limit.ts";
import { HttpError } from "../../core/http-error.ts";
import { listenError } from "../../core/listen-error.ts";
import { logger } from "../../core/log.ts";
import { closing, requestPath, requestProblem } from "../../core/request-checks.ts";
import { lastResort } from "../../core/serve-fallback.ts";
import { tunnelTarget } from "../routes.ts";
import { decodeHopBody, decodeHopBytes, MAX_FRAME, MAX_HOP_BYTES } from "./hop-body.ts";
import { NODE_AUTH_WINDOW_MS, verifyNodeRequest, type RefusalCode } from "./node-auth.ts";
import { RESUME_TOKEN } from "../../protocol/messages.ts";
import { RESUME_HEADER } from "../forward.ts";
import { BODY_LENGTH_HEADER, RESUME_OFFSET_HEADER } from "./owner-forward.ts";
import { ReplayCache } from "./replay-cache.ts";

const log = logger("relay");

export interface InternalHandlers {
  /** The cluster's hop key (cluster-keys.ts). */
  key: Uint8Array;
  /** This node's id: only requests signed for it are served. */
  nodeId: string;
  /** A request refused, and why (metrics): a signature's refusal, or a request HTTP itself refuses (bad_request). */
  refused?(code: RefusalCode | "bad_request"): void;
  /** A call another node sent here for tunnel `id` (path: the part after /t/ID, with its query). */
  tunnel(req: Request, id: string, path: string): Promise<Response>;
  /** This node's own tunnels, for a cluster-wide listing. */
  tunnels(): unknown;
  /** Whether this node reaches Redis, proven by a write made now (asked by a node cut off from it: split-watch.ts). */
  redis?(): Promise<unknown>;
  /** The rest of tunnel `id`'s answer held under `token`, from `offset`, when its agent offered it here. */
  resume?(id: string, token: string, offset: number, signal: AbortSignal): Promise<Response>;
}

export function startInternalServer(listen: string, h: InternalHandlers): Server<undefined> {
  // "localhost" bound as 127.0.0.1, as the public listener and the daemon bind it (bindAddress).
  const { hostname, port } = bindAddress(listen);
  const replay = new ReplayCache(NODE_AUTH_WINDOW_MS);
  try {
    return serveInternal(hostname, port, replay, h);
  } catch (e) {
    throw listenError("its internal listener", "cluster.internal_listen", listen, e, "the relay");
  }
}

function serveInternal(hostname: string, port: number, replay: ReplayCache, h: InternalHandlers): Server<undefined> {
  // Anyone who reaches the internal port can be refused: one line per reason per window, the metric counts each.
  const refusals = new RepeatLimit();
  const refused = (reason: string, path: string) => {
    const line = refusals.note(reason);
    if (line.write) log.warn("internal request refused", { reason, path, repeated: line.repeated || undefined });
  };
  return Bun.serve({
    hostname,
    port,
    idleTimeout: 0,
    // Bun's development mode is on by default (the compiled binary too): serve-fallback.ts says what it would show.
    development: false,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    error: lastResort(log, "internal", () => new HttpError("internal", "the relay failed this request").toResponse()),
    async fetch(req) {
      // Without Host (HTTP/1.0), or CONNECT, the URL is a bare target new URL() refuses: a 400, and one line per window.
      const problem = requestProblem(req);
      if (problem) {
        h.refused?.("bad_request");
        refused(problem, requestPath(req));
        return closing(new HttpError("bad_request", problem).toResponse());
      }
      const url = new URL(req.url);
      const hasBody = req.headers.has("transfer-encoding") || Number(req.headers.get("content-length") ?? "0") > 0;
      const v = verifyNodeRequest(h.key, replay, h.nodeId, req.method, url.pathname + url.search, req.headers, hasBody);
      if (!v.ok) {
        h.refused?.(v.code);
        refused(v.reason, url.pathname);
        return new HttpError("unauthorized", `node-to-node request refused: ${v.reason}`).toResponse();
      }
      if (url.pathname === "/internal/tunnels" && req.method === "GET") return Response.json(h.tunnels());
      if (url.pathname === "/internal/redis" && req.method === "GET" && h.redis) return Response.json(await h.redis());
      const resume = /^\/internal\/resume\/([A-Za-z0-9._-]{1,128})$/.exec(url.pathname);
      if (resume && req.method === "GET" && h.resume) {
        // Signed headers only (verifyNodeRequest): the token and the offset are the entry node's.
        const token = v.request.headers.get(RESUME_HEADER) ?? "";
        const offset = Number(v.request.headers.get(RESUME_OFFSET_HEADER) ?? "-1");
        if (!RESUME_TOKEN.test(token) || !Number.isSafeInteger(offset) || offset < 0) return new HttpError("bad_request", "a resume needs a token and a byte offset").toResponse();
        return h.resume(resume[1]!, token, offset, req.signal);
      }
      const t = url.pathname.startsWith("/internal/t/") ? tunnelTarget(url.pathname.slice("/internal".length)) : null;
      if (!t) return new HttpError("not_found", `no internal route for ${url.pathname}`).toResponse();
      let signed: Request;
      try {
        signed = await signedOnly(req, v.request.headers, v.request.body === "framed" ? v.signature : null, h.key);
      } catch (e) {
        h.refused?.("body");
        refused((e as Error).message, url.pathname);
        return new HttpError("unauthorized", `node-to-node request refused: ${(e as Error).message}`).toResponse();
      }
      return h.tunnel(signed, t.id, t.path + url.search);
    },
  });
}

/**
 * The request as it was signed: only its signed headers, and the body only as verified frames release it. Up to one
 * frame's worth of body is verified before the agent hears of the request, so a body that fits (nearly every call) is
 * proven whole first and a tampered one is refused with 401; a longer one streams on, each frame proven before use.
 */
async function signedOnly(req: Request, headers: Headers, bodySignature: Uint8Array | null, key: Uint8Array): Promise<Request> {
  const length = headers.get(BODY_LENGTH_HEADER);
  headers.delete(BODY_LENGTH_HEADER);
  if (length !== null && bodySignature) headers.set("content-length", length);
  let body: ReadableStream<Uint8Array> | Uint8Array | undefined;
  const whole = req.headers.get("content-length");
  if (bodySignature && whole !== null && !req.headers.has("transfer-encoding") && Number(whole) <= MAX_HOP_BYTES) {
    // Sent whole (a small body): verified at once, no stream.
    body = decodeHopBytes(new Uint8Array(await req.arrayBuffer()), key, bodySignature);
  } else if (bodySignature) {
    const reader = decodeHopBody(req.body ?? new ReadableStream({ start: (c) => c.close() }), key, bodySignature).getReader();
    const head: Uint8Array[] = [];
    let held = 0;
    let done = false;
    while (!done && held < MAX_FRAME) {
      const r = await reader.read();
      if (r.done) done = true;
      else head.push(r.value), (held += r.value.length);
    }
    body = new ReadableStream<Uint8Array>({
      async pull(c) {
        const next = head.shift();
        if (next) return c.enqueue(next);
        if (done) return c.close();
        const r = await reader.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }
  return new Request(req.url, { method: req.method, headers, body, signal: req.signal, duplex: "half" } as RequestInit);
}

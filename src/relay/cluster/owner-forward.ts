// The hop from the node a client reached to the node that holds the tunnel's agent: the request re-sent to the owner's
// internal listener, signed, bodies streamed both ways; the client's abort aborts the hop, which resets the stream at
// the agent. A client's credentials never cross it (the entry node already checked them).
import { HttpError } from "../../core/http-error.ts";
import { HOP_BY_HOP } from "../../net/hop-by-hop.ts";
import { endingBody, cutShortTail } from "../cut-short.ts";
import { CLIENT_ONLY } from "../forward.ts";
import { NODE_AUTH_HEADER, signNodeRequest } from "./node-auth.ts";

/** Never copied across the hop: hop-by-hop headers, and Host (fetch sets the owner's). */
const HOP: readonly string[] = [...HOP_BY_HOP, "host"];

export const ENTRY_NODE_HEADER = "x-c2l-relay-node";
export const OWNER_NODE_HEADER = "x-c2l-relay-owner";

export interface HopOptions {
  secret: Uint8Array;
  nodeId: string;
  ownerUrl: string;
}

export type HopResult = { ok: true; response: Response } | { ok: false; aborted: boolean; message: string };

export async function sendToOwner(req: Request, id: string, path: string, o: HopOptions): Promise<HopResult> {
  const target = `/internal/t/${id}${path}`;
  const headers = new Headers();
  req.headers.forEach((v, k) => {
    if (!HOP.includes(k) && !CLIENT_ONLY.includes(k) && k !== NODE_AUTH_HEADER) headers.append(k, v);
  });
  headers.set(NODE_AUTH_HEADER, signNodeRequest(o.secret, o.nodeId, req.method, target));
  headers.set(ENTRY_NODE_HEADER, o.nodeId);
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
  try {
    const res = await fetch(o.ownerUrl + target, {
      method: req.method,
      headers,
      body: hasBody ? req.body : undefined,
      signal: req.signal,
      redirect: "manual",
      // The agent's bytes go to the client as they are: no decompression, no buffering.
      decompress: false,
      duplex: "half",
    } as RequestInit);
    const out = new Headers();
    res.headers.forEach((v, k) => {
      if (!HOP.includes(k)) out.append(k, v);
    });
    out.set(ENTRY_NODE_HEADER, o.nodeId);
    // The owner node dying mid-answer ends the client's stream with a reason in its dialect, not a reset.
    const body = res.body && endingBody(res.body, (e, last) => ownerGone(e, last, res.headers.get("content-type"), id, path, o.nodeId));
    return { ok: true, response: new Response(body, { status: res.status, statusText: res.statusText, headers: out }) };
  } catch (e) {
    return { ok: false, aborted: req.signal.aborted, message: (e as Error).message };
  }
}

function ownerGone(e: unknown, lastByte: number, contentType: string | null, id: string, path: string, nodeId: string): Uint8Array | null {
  const err = new HttpError("tunnel_moving", `the relay node holding tunnel "${id}" went away in the middle of the answer (${(e as Error)?.message ?? String(e)}); the answer is incomplete, retry in a moment`);
  return cutShortTail(err, contentType, lastByte, false, { tunnel: id, path: path.split("?")[0], node: nodeId });
}

/** The answer when the owner cannot be reached: the agent is moving to a live node, so retry shortly. */
export function ownerUnreachable(id: string, path: string, message: string): Response {
  return new HttpError("tunnel_moving", `the relay node holding tunnel "${id}" did not answer (${message}); its agent reconnects to another node, retry in a moment`).toDialectResponse(path, { "retry-after": "1" });
}

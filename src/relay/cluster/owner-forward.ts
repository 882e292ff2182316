// The hop from the node a client reached to the node that holds the tunnel's agent: the request re-sent to the owner's
// internal listener, signed whole (node-auth.ts) with its body in authenticated frames (hop-body.ts), streamed both
// ways; the client's abort aborts the hop, which resets the stream at the agent. A client's credentials never cross it
// (the entry node already checked them).
import { HttpError } from "../../core/http-error.ts";
import { HOP_BY_HOP } from "../../net/hop-by-hop.ts";
import { endingBody, cutShortTail } from "../cut-short.ts";
import { CLIENT_ONLY, ENTRY_RESUMES_HEADER, REPLAYED_HEADER, RESUME_HEADER, RESUME_WINDOW_HEADER } from "../forward.ts";
import { bodySource, resumableBody, type ChunkSource, type ResumeHooks } from "../resumable-body.ts";
import { encodeHopBody, encodeHopBytes, MAX_FRAME } from "./hop-body.ts";
import type { HopWatch } from "./hop-watch.ts";
import { NODE_AUTH_HEADER, NODE_HEADERS_HEADER, signNodeRequest, type BodyMode } from "./node-auth.ts";

/** Never copied across the hop: hop-by-hop headers, and Host (fetch sets the owner's). */
const HOP: readonly string[] = [...HOP_BY_HOP, "host"];
/** The client's Content-Length rides in a signed header: the hop's own length is the frames'. */
export const BODY_LENGTH_HEADER = "x-c2l-content-length";
/** Only ever set by a node: a client's copy is dropped. */
const NODE_ONLY: readonly string[] = [NODE_AUTH_HEADER, NODE_HEADERS_HEADER, BODY_LENGTH_HEADER, ENTRY_RESUMES_HEADER, "content-length"];

/** The headers that sign a node-to-node request `method target` with `headers` (which are sent too). */
export function signedHeaders(key: Uint8Array, nodeId: string, to: string, method: string, target: string, headers: Headers, body: BodyMode): { headers: Headers; signature: Uint8Array } {
  const s = signNodeRequest(key, nodeId, { to, method, target, headers, body });
  const out = new Headers(headers);
  out.set(NODE_AUTH_HEADER, s.auth);
  if (s.headerNames) out.set(NODE_HEADERS_HEADER, s.headerNames);
  return { headers: out, signature: s.signature };
}

export const ENTRY_NODE_HEADER = "x-c2l-relay-node";
export const OWNER_NODE_HEADER = "x-c2l-relay-owner";

export interface HopOptions {
  /** The cluster's hop key (cluster-keys.ts). */
  key: Uint8Array;
  nodeId: string;
  ownerId: string;
  ownerUrl: string;
  /** How an answer the owner marked resumable is resumed when the owner's session or the owner itself is lost. */
  /** `windowMs`: the resume window the owner agreed with the agent, when it named one. */
  resume?: (token: string, contentType: string | null, windowMs?: number) => ResumeHooks;
  /** Watches the hop, to abort it when the owner freezes (hop-watch.ts). */
  watch?: HopWatch;
  /** The call's small body, read already (smallBody()): so a call can be sent again, to the tunnel's new owner. */
  bytes?: Uint8Array | null;
}

/** True for a call with no body: it can be sent again as it is. */
export function bodiless(req: Request): boolean {
  return req.method === "GET" || req.method === "HEAD" || req.body === null;
}

/** A small body of declared length (nearly every call), read whole: it goes as one buffer, and can go again. Others: null. */
export async function smallBody(req: Request): Promise<Uint8Array | null> {
  const length = req.headers.get("content-length");
  if (bodiless(req) || length === null || !/^\d+$/.test(length) || Number(length) > MAX_FRAME) return null;
  return new Uint8Array(await req.arrayBuffer());
}

/**
 * The rest of a resumable answer, from `offset`, at the node whose agent offered it: its source, or null (no offer
 * there, or no answer in time). Watched like every hop (o.watch): a node that froze (its connection never breaks) is
 * given up by the sweep, head or body, so the answer resumes elsewhere instead of waiting on it forever; and its head
 * must come within `headMs` (the rest of the client's resume window), so the window bounds the wait in every case.
 */
export async function resumeAt(id: string, token: string, offset: number, o: HopOptions, signal: AbortSignal, headMs: number): Promise<ChunkSource | null> {
  const target = `/internal/resume/${id}`;
  const headers = new Headers({ [RESUME_HEADER]: token, [RESUME_OFFSET_HEADER]: String(offset) });
  const signed = signedHeaders(o.key, o.nodeId, o.ownerId, "GET", target, headers, "none");
  const hop = o.watch?.open(o.ownerId, o.ownerUrl, signal);
  const late = new AbortController();
  const timer = setTimeout(() => late.abort(new Error(`no answer from relay node ${o.ownerId} within ${Math.round(headMs)} ms`)), Math.max(0, headMs));
  try {
    const res = await fetch(o.ownerUrl + target, { headers: signed.headers, signal: AbortSignal.any([hop?.signal ?? signal, late.signal]), decompress: false, proxy: false } as RequestInit);
    clearTimeout(timer);
    if (res.status === 200 && res.body) {
      // An owner of an older release (or an agent that did not say what it had sent) names none.
      const replayed = Number(res.headers.get(REPLAYED_HEADER) ?? "-1");
      return watchedSource(bodySource(res.body, Number.isSafeInteger(replayed) && replayed >= 0 ? replayed : undefined), () => hop?.close());
    }
    await res.arrayBuffer().catch(() => {});
  } catch {
  } finally {
    clearTimeout(timer);
  }
  hop?.close();
  return null;
}

/** `src`, calling `over` once when it ends, breaks or is cancelled (the hop it reads is then no longer watched). */
function watchedSource(src: ChunkSource, over: () => void): ChunkSource {
  return {
    ...src,
    next: async () => {
      try {
        const chunk = await src.next();
        if (!chunk) over();
        return chunk;
      } catch (e) {
        over();
        throw e;
      }
    },
    cancel: (reason) => {
      over();
      src.cancel(reason);
    },
  };
}

/** The byte of the answer a resume starts from (the client has everything before it). */
export const RESUME_OFFSET_HEADER = "x-c2l-resume-offset";

/** `refused`: the owner's internal listener refused the hop itself (the nodes do not trust each other's signatures). */
export type HopResult = { ok: true; response: Response } | { ok: false; aborted: boolean; message: string; refused?: boolean };

export async function sendToOwner(req: Request, id: string, path: string, o: HopOptions): Promise<HopResult> {
  const target = `/internal/t/${id}${path}`;
  const headers = new Headers();
  req.headers.forEach((v, k) => {
    if (!HOP.includes(k) && !CLIENT_ONLY.includes(k) && !NODE_ONLY.includes(k)) headers.append(k, v);
  });
  const length = req.headers.get("content-length");
  if (length !== null) headers.set(BODY_LENGTH_HEADER, length);
  headers.set(ENTRY_NODE_HEADER, o.nodeId);
  if (o.resume) headers.set(ENTRY_RESUMES_HEADER, "1");
  const hasBody = !bodiless(req);
  const signed = signedHeaders(o.key, o.nodeId, o.ownerId, req.method, target, headers, hasBody ? "framed" : "none");
  // A small body (read by the caller, or here) goes as one buffer; others stream frame by frame.
  const small = o.bytes ?? (await smallBody(req));
  const hop = o.watch?.open(o.ownerId, o.ownerUrl, req.signal);
  try {
    const res = await fetch(o.ownerUrl + target, {
      method: req.method,
      headers: signed.headers,
      body: !hasBody ? undefined : small ? encodeHopBytes(small, o.key, signed.signature) : encodeHopBody(req.body, o.key, signed.signature),
      signal: hop?.signal ?? req.signal,
      redirect: "manual",
      // The agent's bytes go to the client as they are: no decompression, no buffering.
      decompress: false,
      // Never through an environment HTTP_PROXY: the hop carries the client's gateway key and prompt to the owner node.
      proxy: false,
      duplex: "half",
    } as RequestInit);
    // Every answer from the owner's tunnel path names the owner; a 401 without it is the internal listener refusing this
    // node's signature (clocks more than 30 s apart, another shared secret): not the client's key, so not its 401.
    if (res.status === 401 && !res.headers.has(OWNER_NODE_HEADER)) {
      hop?.close();
      const why = ((await res.json().catch(() => null)) as { error?: { message?: string } } | null)?.error?.message;
      return { ok: false, aborted: false, refused: true, message: why ?? "HTTP 401" };
    }
    const out = new Headers();
    res.headers.forEach((v, k) => {
      if (!HOP.includes(k)) out.append(k, v);
    });
    out.set(ENTRY_NODE_HEADER, o.nodeId);
    out.delete(RESUME_HEADER);
    out.delete(RESUME_WINDOW_HEADER);
    const token = res.headers.get(RESUME_HEADER);
    const agreed = Number(res.headers.get(RESUME_WINDOW_HEADER) ?? NaN);
    const contentType = res.headers.get("content-type");
    // A resumable answer survives the owner's session or the owner itself: this node holds the client and takes it
    // over where the agent reconnects. Any other answer ends, when the owner dies mid-answer, with a reason in the
    // client's dialect, not a reset.
    const closed = () => hop?.close();
    const hooks = token && o.resume ? o.resume(token, contentType, Number.isFinite(agreed) && agreed >= 0 ? agreed : undefined) : null;
    const body =
      res.body &&
      (hooks
        ? resumableBody(bodySource(res.body), { ...hooks, ended: () => (hooks.ended?.(), closed()) })
        : endingBody(res.body, (e, last) => ownerGone(e, last, contentType, id, path, o.nodeId), closed));
    if (!body) closed();
    return { ok: true, response: new Response(body, { status: res.status, statusText: res.statusText, headers: out }) };
  } catch (e) {
    hop?.close();
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

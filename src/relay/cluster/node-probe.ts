// Asking another relay node something on its internal listener (a signed GET: is it there, does it reach Redis), with
// a bound on the wait: the answer's JSON, or null when none came in time. The wait is counted in this node's own time
// (own-time.ts): a node that got no CPU for longer must not take a peer that answered in time for frozen.
import { ownTimeDeadline } from "./own-time.ts";
import { signedHeaders } from "./owner-forward.ts";

export interface NodeProbe {
  /** The cluster's hop key (cluster-keys.ts). */
  key: Uint8Array;
  /** This node, the sender. */
  from: string;
}

export type NodeAnswer = { redis?: string; up_ms?: unknown };

/** `node`'s JSON answer to a signed GET of `target` within `ms` (null: none; {}: an error or not JSON, e.g. an older node). */
export async function askNode(p: NodeProbe, node: string, url: string, target: string, ms: number): Promise<NodeAnswer | null> {
  const late = new AbortController();
  const cancel = ownTimeDeadline(ms, () => late.abort(new Error(`no answer from relay node ${node} within ${ms} ms`)));
  try {
    const { headers } = signedHeaders(p.key, p.from, node, "GET", target, new Headers(), "none");
    // Node to node never through an environment HTTP_PROXY (proxy: false): the hops carry signed calls and clients' keys.
    const res = await fetch(url + target, { headers, signal: late.signal, proxy: false });
    const text = await res.text();
    if (!res.ok) return {};
    try {
      return JSON.parse(text) as NodeAnswer;
    } catch {
      return {};
    }
  } catch {
    return null;
  } finally {
    cancel();
  }
}

// Node-to-node request signatures: HMAC-SHA256 over who sent it, when, and what it asks for, with the cluster's shared
// secret. The internal listener answers only requests signed this way within a short clock window.
import { createHmac, timingSafeEqual } from "node:crypto";

/** The header that carries `node.timestamp_ms.signature` on every node-to-node request. */
export const NODE_AUTH_HEADER = "x-c2l-node-auth";
/** How far a signature's time may be from ours: clocks in a cluster are NTP-close; a captured request goes stale. */
export const NODE_AUTH_WINDOW_MS = 30_000;

function mac(secret: Uint8Array, node: string, ts: number, method: string, target: string): string {
  return createHmac("sha256", secret).update(`${node}\n${ts}\n${method.toUpperCase()}\n${target}`).digest("base64url");
}

/** The header value for a request `method target` (target: path and query) sent by `node`. */
export function signNodeRequest(secret: Uint8Array, node: string, method: string, target: string, now = Date.now()): string {
  return `${node}.${now}.${mac(secret, node, now, method, target)}`;
}

/** The sending node when the header is a valid signature for this request, else why not. */
export function verifyNodeRequest(
  secret: Uint8Array,
  header: string | null,
  method: string,
  target: string,
  now = Date.now(),
): { ok: true; node: string } | { ok: false; reason: string } {
  if (!header) return { ok: false, reason: `missing ${NODE_AUTH_HEADER}` };
  const m = /^([A-Za-z0-9_.:-]+)\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(header);
  if (!m) return { ok: false, reason: `malformed ${NODE_AUTH_HEADER}` };
  const [, node, tsText, sig] = m as unknown as [string, string, string, string];
  const ts = Number(tsText);
  if (Math.abs(now - ts) > NODE_AUTH_WINDOW_MS) return { ok: false, reason: "the signature is stale (or the nodes' clocks disagree by more than 30 s)" };
  const want = Buffer.from(mac(secret, node, ts, method, target));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: "bad signature (is shared_secret_file the same on every node?)" };
  return { ok: true, node };
}

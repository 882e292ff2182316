// Node-to-node request signatures: HMAC-SHA256 (the cluster's hop key) over who sent it, to which node, when, a fresh
// nonce, the method, the path and query, every header the owner will pass on (their names listed in a signed header), and whether
// a body follows (its frames are authenticated by hop-body.ts, chained to this signature). The internal listener
// answers only requests signed this way, within a short clock window, each nonce once (replay-cache.ts); headers it was
// not told about are refused, so nothing unsigned ever reaches an agent.
import type * as NodeCrypto from "node:crypto";

// Required on first use, not imported: forward.ts needs this file's header names on every relay, and node:crypto
// (with node:stream under it) would cost a relay that is not in a cluster several MiB.
const nodeCrypto = () => require("node:crypto") as typeof NodeCrypto;
import type { ReplayCache } from "./replay-cache.ts";

/** The header that carries `node.timestamp_ms.nonce.body.signature` on every node-to-node request. */
export const NODE_AUTH_HEADER = "x-c2l-node-auth";
/** The names of the signed headers, comma-separated and sorted (its own value is part of the signature). */
export const NODE_HEADERS_HEADER = "x-c2l-node-headers";
/** How far a signature's time may be from ours: clocks in a cluster are NTP-close; a captured request goes stale. */
export const NODE_AUTH_WINDOW_MS = 30_000;

/** Set by the HTTP connection itself, never passed on: they may differ from what the sender signed. */
const TRANSPORT = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", NODE_AUTH_HEADER, NODE_HEADERS_HEADER]);
/** Added by fetch when the sender had none: dropped (never passed on) unless signed. */
const SENDER_DEFAULTS = new Set(["accept", "user-agent", "accept-encoding"]);

export type BodyMode = "none" | "framed";
const BODY_FLAG: Record<BodyMode, string> = { none: "0", framed: "1" };

export interface SignedRequest {
  /** The node it is sent to: a request captured on its way to one node is refused by every other. */
  to: string;
  method: string;
  /** Path and query. */
  target: string;
  /** Exactly the headers to pass on (lower-case names). */
  headers: Headers;
  body: BodyMode;
}

function names(headers: Headers): string[] {
  const out = new Set<string>();
  headers.forEach((_, k) => out.add(k.toLowerCase()));
  return [...out].sort();
}

function mac(key: Uint8Array, node: string, ts: number, nonce: string, r: SignedRequest, signed: string[]): Buffer {
  const h = nodeCrypto().createHmac("sha256", key).update(`c2l-hop\n${node}\n${r.to}\n${ts}\n${nonce}\n${BODY_FLAG[r.body]}\n${r.method.toUpperCase()}\n${r.target}\n${signed.join(",")}\n`);
  for (const n of signed) h.update(`${n}:${r.headers.get(n) ?? ""}\n`);
  return h.digest();
}

/**
 * Signs a request sent by `node`: the headers to set on it besides r.headers (which must hold no transport header).
 * Also returns the raw signature, which seeds the body's frame chain.
 */
export function signNodeRequest(key: Uint8Array, node: string, r: SignedRequest, now = Date.now()): { auth: string; headerNames: string; signature: Uint8Array } {
  const signed = names(r.headers);
  const bad = signed.find((n) => TRANSPORT.has(n));
  if (bad) throw new Error(`${bad} cannot be a signed node-to-node header`);
  const nonce = nodeCrypto().randomBytes(16).toString("base64url");
  const sig = mac(key, node, now, nonce, r, signed);
  return { auth: `${node}.${now}.${nonce}.${BODY_FLAG[r.body]}.${sig.toString("base64url")}`, headerNames: signed.join(","), signature: new Uint8Array(sig) };
}

/** Why a request was refused, for the metric's label (a fixed set). */
export type RefusalCode = "missing" | "malformed" | "stale" | "bad_signature" | "unsigned_header" | "before_start" | "replay" | "body";

export type Verified = { ok: true; node: string; request: SignedRequest; signature: Uint8Array } | { ok: false; reason: string; code: RefusalCode };

/**
 * The request as signed (only its signed headers) when `headers` carry a valid, fresh, first-seen signature for
 * `method target` sent to this node (`self`); else why not. `body`: whether the request arrived with a body (a signed "none" must have none).
 */
export function verifyNodeRequest(key: Uint8Array, replay: ReplayCache, self: string, method: string, target: string, headers: Headers, hasBody: boolean, now = Date.now()): Verified {
  const header = headers.get(NODE_AUTH_HEADER);
  if (!header) return { ok: false, reason: `missing ${NODE_AUTH_HEADER}`, code: "missing" };
  const m = /^([A-Za-z0-9_.:-]+)\.(\d{1,15})\.([A-Za-z0-9_-]{22})\.([01])\.([A-Za-z0-9_-]{43})$/.exec(header);
  if (!m) return { ok: false, reason: `malformed ${NODE_AUTH_HEADER}`, code: "malformed" };
  const [, node, tsText, nonce, flag, sig] = m as unknown as [string, string, string, string, string, string];
  const ts = Number(tsText);
  if (Math.abs(now - ts) > NODE_AUTH_WINDOW_MS) return { ok: false, reason: "the signature is stale (or the nodes' clocks disagree by more than 30 s)", code: "stale" };
  const body: BodyMode = flag === "1" ? "framed" : "none";
  if (body === "none" && hasBody) return { ok: false, reason: "a body was sent with a request signed without one", code: "bad_signature" };
  const listed = headers.get(NODE_HEADERS_HEADER) ?? "";
  const signed = listed ? listed.split(",") : [];
  const kept = new Headers();
  for (const n of signed) {
    const v = headers.get(n);
    if (v !== null && !TRANSPORT.has(n)) kept.set(n, v);
  }
  const request: SignedRequest = { to: self, method, target, headers: kept, body };
  // The list must be the sender's own (sorted, unique, no transport header) or the signature cannot match anyway.
  const want = mac(key, node, ts, nonce, request, signed);
  const got = Buffer.from(sig, "base64url");
  if (names(kept).join(",") !== listed || !nodeCrypto().timingSafeEqual(want, got)) return { ok: false, reason: "bad signature (is shared_secret_file the same on every node? was the request altered?)", code: "bad_signature" };
  let unsigned: string | undefined;
  headers.forEach((_, k) => {
    const n = k.toLowerCase();
    if (!unsigned && !kept.has(n) && !TRANSPORT.has(n) && !SENDER_DEFAULTS.has(n)) unsigned = n;
  });
  if (unsigned) return { ok: false, reason: `header ${unsigned} is not covered by the signature`, code: "unsigned_header" };
  if (ts < replay.since) return { ok: false, reason: "signed before this node started (it cannot know whether it was used already)", code: "before_start" };
  if (!replay.accept(`${node}.${nonce}`, ts, now)) return { ok: false, reason: "this signed request was already received (a replay)", code: "replay" };
  return { ok: true, node, request, signature: new Uint8Array(want) };
}

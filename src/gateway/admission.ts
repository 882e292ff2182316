// Who may use the broker: the caller's key (any header), whether one is needed, its model allowlist, model management and limits.
import type { Admitted, Caller, CallerClass, RequestModelNames } from "../core/contracts.ts";
import { HttpError } from "../core/http-error.ts";
import { expiredWhileQueued, revokedWhileQueued } from "../core/queued-key-refusals.ts";
import { BLOB_ROUTE, blobDigest, isModelManagement, type NamedBlob } from "../core/model-routes.ts";
import { BlobGrants } from "./blob-grants.ts";
import { isLoopbackHost } from "../net/host.ts";
import { BudgetHolds, holdFor } from "./budget.ts";
import type { KeyStore } from "./key-store.ts";
import { expired, KEY_PREFIX, modelAllowed, type KeyRecord } from "./keys.ts";
import { isKeyChar } from "../core/key-format.ts";

export type RequireKey = "auto" | "always" | "never";
export type { Admitted, Caller, CallerClass };

export function callerClass(c: Caller): CallerClass {
  if (c.source === "tunnel") return "tunnel";
  return c.ip !== null && isLoopbackHost(c.ip) ? "local" : "lan";
}

/**
 * Every `c2l_` key a request carries, with the header it came in: any header, not only the two clients use
 * (`Authorization: Bearer …`, `x-api-key`), so a key put where a proxy, an SDK (`api-key`) or a script puts one is
 * checked too, and a Basic credential (`http://user:c2l_…@host`) is decoded and read the same way. A key is a `c2l_`
 * token at the start of a value or after a character that cannot be part of one; a value that is not one (the
 * "ollama" placeholder) is not a key, nor, in a Cookie header, a name such as the dashboard's `c2l_session=…`, nor
 * anything in our own `x-c2l-*` headers (a relay node may be named `c2l_east`). Through the tunnel the agent removes
 * Authorization, Proxy-Authorization and Cookie first (they are the relay's: src/tunnel/filter.ts).
 */
export function presentedKeys(headers: Headers, json: Record<string, string | string[]> | null = null): { key: string; header: string }[] {
  let found: { key: string; header: string }[] | null = null;
  // One native call for every header (cheaper than iterating entries), shared with the broker's other readers of the
  // same request (`json`); a repeated header arrives joined by ", ".
  const all = json ?? (headers.toJSON() as Record<string, string | string[]>);
  for (const name in all) {
    const v = all[name]!;
    let text = typeof v === "string" ? v : v.join(", ");
    if ((name === "authorization" || name === "proxy-authorization") && BASIC.test(text)) text = withBasicDecoded(text);
    let at = text.indexOf(KEY_PREFIX);
    if (at < 0 || name.startsWith("x-c2l-")) continue;
    while (at >= 0) {
      let end = at + KEY_PREFIX.length;
      while (end < text.length && isKeyChar(text.charCodeAt(end))) end++;
      const starts = at === 0 || !isKeyChar(text.charCodeAt(at - 1));
      // In a Cookie header a token followed by "=" is a cookie's name.
      if (starts && !(name === "cookie" && text.charCodeAt(end) === 0x3d)) (found ??= []).push({ key: text.slice(at, end), header: name });
      at = text.indexOf(KEY_PREFIX, end);
    }
  }
  return found ?? [];
}

const BASIC = /basic\s/i;
const BASIC_CREDENTIAL = /(?:^|,)\s*basic\s+([A-Za-z0-9+/=_-]+)/gi;
/**
 * The value with every Basic credential in it decoded after it ("Basic dTpjMmxf…" → "… u:c2l_…"): a repeated
 * Authorization header arrives joined by ", ", so a Basic credential may come before or after a bearer token, and the
 * keys of both must be found.
 */
function withBasicDecoded(value: string): string {
  let out = value;
  for (const m of value.matchAll(BASIC_CREDENTIAL)) out += " " + Buffer.from(m[1]!, "base64").toString("utf8");
  return out;
}

/** The one key a request presents, or null; two different keys are a 400 naming both headers (never one of them silently). */
export function presentedKey(headers: Headers, json: Record<string, string | string[]> | null = null): string | null {
  const found = presentedKeys(headers, json);
  if (found.length === 0) return null;
  if (found.length > 1) oneKeyOnly(found);
  return found[0]!.key;
}

/** Two different keys are refused (apart from presentedKey(): its closure would cost every request a scope). */
function oneKeyOnly(found: { key: string; header: string }[]): void {
  const first = found[0]!;
  const other = found.find((f) => f.key !== first.key);
  if (other)
    throw new HttpError("bad_request", `the request carries two different API keys (${first.key.slice(0, 8)}… in ${first.header}, ${other.key.slice(0, 8)}… in ${other.header}); send one`);
}

/** Seconds from `now` to the next 00:00 UTC, when the daily budgets start again. */
function untilMidnight(now: number): number {
  const d = new Date(now);
  return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now) / 1000;
}

/** The admission of a caller without a key, one per caller class (read only): none made per request. */
const NO_KEY: Record<CallerClass, Admitted> = {
  local: Object.freeze({ key: null, caller: "local" }),
  lan: Object.freeze({ key: null, caller: "lan" }),
  tunnel: Object.freeze({ key: null, caller: "tunnel" }),
};

const notAllowed = (key: KeyRecord, model: string) => new HttpError("forbidden", `the API key "${key.name}" may not use model "${model}" (allowed: ${key.models.join(", ")})`);

const WHERE: Record<CallerClass, string> = { local: "on this machine", lan: "from another machine", tunnel: "through the tunnel" };

const HOW = "send it as `Authorization: Bearer c2l_…` or `x-api-key` (create one with `cloudtolocalllm-tunnel key create NAME`)";

/**
 * The one admission check, for the broker's listener and the tunnel alike. Under `auto` a caller on this machine needs
 * no key and the tunnel's callers were admitted by the relay; any other caller needs one. A key that is sent is always
 * checked, even where none is needed: a wrong or expired one is an error, never silently ignored. Other bearer tokens
 * (the "ollama" placeholder OpenAI clients must send) are not keys and count as none.
 */
export class Admission {
  /** Per key: the times of its requests in the last minute, oldest first. */
  private windows = new Map<string, number[]>();
  /** Tokens of each key's daily budget held by its requests in flight (budget.ts). */
  readonly holds = new BudgetHolds();

  constructor(
    private readonly store: KeyStore,
    private readonly requireKey: () => RequireKey,
    private readonly now: () => number = Date.now,
    /** Prompt + completion tokens the key used today (UTC), for tokens_per_day (the usage ledger). */
    private readonly tokensToday: (key: string) => number = () => 0,
    /** The blobs each key uploaded through the broker: what a key with a model list may build a model from. */
    readonly blobs: BlobGrants = new BlobGrants(),
  ) {}

  /** Whether this caller must present a key. */
  needsKey(caller: CallerClass): boolean {
    const mode = this.requireKey();
    if (mode === "never") return false;
    if (mode === "always") return true;
    return caller === "lan";
  }

  /**
   * Who is calling: checks the key (401 when one is needed and missing, or a sent key is unknown or expired). Cheap,
   * and done before the request body is read, so a caller without a key never gets 32 MiB read on its behalf.
   */
  admit(headers: Headers, caller: Caller, json: Record<string, string | string[]> | null = null): Admitted {
    const cls = callerClass(caller);
    const sent = presentedKey(headers, json);
    if (sent === null) {
      if (this.needsKey(cls)) throw new HttpError("unauthorized", `an API key is required for callers ${WHERE[cls]}: ${HOW}`);
      return NO_KEY[cls];
    }
    const key = this.store.lookup(sent);
    if (!key) throw new HttpError("unauthorized", `the API key ${sent.slice(0, 8)}… is not known (revoked, or mistyped): ${HOW}`);
    if (expired(key, this.now())) throw new HttpError("unauthorized", `the API key "${key.name}" expired at ${key.expires_at}`);
    return { key, caller: cls, countedAt: undefined };
  }

  /**
   * What the admitted caller may do with this request: model management (403 unless the key allows it), the key's model
   * allowlist (403) and its requests per minute (429 with Retry-After). `model` undefined is a route without one (the
   * model lists); null is a request that names none; `alias` is the name the caller sent when `model` is the model it
   * stands for: allowing either is enough. `request`: every other model the body names must be allowed too, and a body
   * the broker could not read whole (or that names models in text it does not read) cannot pass a model list.
   */
  authorize(a: Admitted, model: string | null | undefined, alias?: string, request?: RequestModelNames): void {
    const key = a.key;
    if (!key) return;
    if (request && isModelManagement(request.path, request.method) && key.allow_model_management !== true)
      throw new HttpError("forbidden", `the API key "${key.name}" may not manage models (${request.path}); create a key with --allow-model-management for that`);
    if (key.models.length > 0 && request) {
      if (request.encoding !== null)
        throw new HttpError("unsupported_media_type", `the request body is sent with Content-Encoding: ${request.encoding}, which the broker does not decode, so it cannot read which model it names, and the API key "${key.name}" may use only some models; send it uncompressed`);
      // A body cut only because the replay buffer is full now would be read whole a moment later: retry, not too large.
      if (!request.complete && request.cut === "budget")
        throw new HttpError("unavailable", `the broker is holding as many request bodies as [proxy] replay_buffer allows, and the API key "${key.name}" may use only some models, so its body must be read whole to know which model it names; retry in a moment`).after(1);
      if (!request.complete)
        throw new HttpError("payload_too_large", `the request body is too large for the broker to read which model it names, and the API key "${key.name}" may use only some models (${key.models.join(", ")})`);
      if (request.opaque !== null)
        throw new HttpError("forbidden", `the API key "${key.name}" may use only some models (${key.models.join(", ")}), and "${request.opaque}" names models and files the broker does not read: name them as fields instead, "from" (a model this key may use) or "files" and "adapters" (blobs this key uploaded with POST /api/blobs/sha256:…)`);
      if (request.blobs) for (const b of request.blobs) this.mayBuildFrom(key, b);
      // Whether a blob exists tells which models the machine has (their digests are public): a key with a model list
      // learns it of its own uploads only. Ollama's "not found" to the rest, so a client that asks before it uploads
      // (HEAD, then POST on 404) uploads, and so proves it has the file.
      if (request.method === "HEAD" && request.path.startsWith(BLOB_ROUTE)) {
        const digest = blobDigest(request.path.slice(BLOB_ROUTE.length));
        if (digest === null || !this.blobs.has(key, digest))
          throw new HttpError("not_found", `the API key "${key.name}" may use only some models, and sees only the blobs it uploaded itself; it uploaded no blob ${request.path.slice(BLOB_ROUTE.length)}`);
      }
    }
    if (model !== undefined && !modelAllowed(key.models, model) && !(alias !== undefined && modelAllowed(key.models, alias)))
      throw model === null ? new HttpError("forbidden", `the API key "${key.name}" may use only some models (${key.models.join(", ")}) and this request names none`) : notAllowed(key, model);
    if (request && key.models.length > 0) for (const other of request.others) if (!modelAllowed(key.models, other)) throw notAllowed(key, other);
    if (key.tokens_per_day > 0) {
      const used = this.tokensToday(key.name);
      if (used >= key.tokens_per_day) {
        throw new HttpError("rate_limited", `the API key "${key.name}" used its ${key.tokens_per_day} tokens for today (${used} used); it resets at 00:00 UTC`).after(untilMidnight(this.now()));
      }
    }
    if (key.rpm > 0) a.countedAt = this.countRequest(key, this.now());
  }

  /**
   * For a generation (or embedding: `generates` false) request authorize() has just let in (synchronously before this): holds its estimate against the
   * key's tokens_per_day until the release is called (after its use is counted), or refuses it (429) while the day's
   * use and what requests in flight hold reach the budget, so N requests at once cannot each spend the same leftover.
   * Null for a key without a budget.
   */
  reserve(a: Admitted, body: Uint8Array | null, promptTokens: number, generates = true): (() => void) | null {
    const key = a.key;
    if (!key || key.tokens_per_day <= 0) return null;
    const used = this.tokensToday(key.name);
    const held = this.holds.of(key.name);
    if (used + held >= key.tokens_per_day) {
      // Refused for its budget, as one refused in authorize() for a day's use spent: not one of its requests per
      // minute (its Retry-After of 5 s would otherwise meet the --rpm limit its own refusals filled). authorize() just
      // counted it, synchronously before this: the newest time in the window is its.
      if (key.rpm > 0) this.windows.get(key.name)?.pop();
      throw new HttpError("rate_limited", `the API key "${key.name}" has its ${key.tokens_per_day} tokens for today used or held by requests in flight (${used} used, ${held} held); retry when they finish`).after(5);
    }
    // An embedding (or rerank) generates nothing: its prompt, estimated from its size, is all it may spend.
    return this.holds.hold(key.name, generates ? holdFor(body, promptTokens) : promptTokens);
  }

  /**
   * For a request that waited in the queue: a key revoked (or replaced) or expired while it waited is a 401 now, so
   * revoking a key stops what it has queued, not only its next requests (and a caller without one, when a reload made
   * one needed); and one whose day's use reached its budget
   * meanwhile (the requests before it used more than they held) is a 429, so a queue cannot spend past the budget. A
   * request already running finishes.
   */
  recheck(a: Admitted): void {
    const key = a.key;
    if (!key) {
      // Let in without a key: a reload that made one needed for its callers ([proxy] require_key) stops it too.
      if (this.needsKey(a.caller))
        throw new HttpError("unauthorized", `an API key is required for callers ${WHERE[a.caller]} ([proxy] require_key changed to "${this.requireKey()}" while the request waited in the queue): ${HOW}`);
      return;
    }
    const current = this.store.get(key.name);
    if (current?.hash !== key.hash) throw revokedWhileQueued(key.name);
    if (expired(key, this.now())) throw expiredWhileQueued(key.name, key.expires_at!);
    if (current.tokens_per_day > 0) {
      const used = this.tokensToday(key.name);
      if (used >= current.tokens_per_day)
        throw new HttpError("rate_limited", `the API key "${key.name}" used its ${current.tokens_per_day} tokens for today (${used} used) while its request waited in the queue; it resets at 00:00 UTC`).after(untilMidnight(this.now()));
    }
  }

  /**
   * A blob an /api/create body builds from (`files`, `adapters`, `draft_files`), for a key with a model list: one it
   * uploaded itself through the broker (grantBlob), never any other blob on the machine (another model's weights).
   */
  private mayBuildFrom(key: KeyRecord, b: NamedBlob): void {
    const digest = blobDigest(b.digest);
    if (digest !== null && this.blobs.has(key, digest)) return;
    throw new HttpError(
      "forbidden",
      digest === null
        ? `the API key "${key.name}" may use only some models, and "${b.field}" names ${b.digest}, which is no blob digest (sha256:…)`
        : `the API key "${key.name}" may use only some models, and "${b.field}" names blob ${b.digest}, which this key did not upload: upload the file with POST /api/blobs/${digest} using this key (the broker remembers each key's last 256 uploads), or build from a model this key may use with "from"`,
    );
  }

  /** The admitted key uploaded blob `digest` (its bytes hash to it) through the broker: it may build models from it. */
  grantBlob(a: Admitted, digest: string): void {
    const d = blobDigest(digest);
    if (a.key !== null && d !== null) this.blobs.grant(a.key, d);
  }

  /** Whether the admitted caller may use `model`: any model without a key or with an empty list. */
  mayUse(a: Admitted, model: string): boolean {
    return a.key === null || modelAllowed(a.key.models, model);
  }

  /**
   * See GatewayService.unqueued: the time authorize() counted it is taken out of the window (the newest such, though any
   * entry of that time is the same), not the newest time: after a wait in the queue other requests counted since.
   */
  unqueued(a: Admitted): void {
    const key = a.key;
    const at = a.countedAt;
    if (!key || key.rpm <= 0 || at === undefined) return;
    a.countedAt = undefined;
    const w = this.windows.get(key.name);
    const i = w ? w.lastIndexOf(at) : -1;
    if (i >= 0) w!.splice(i, 1);
  }

  /** Counts the request in the key's minute (429 when it is full) and returns the time it was counted at. */
  private countRequest(key: KeyRecord, now: number): number {
    let w = this.windows.get(key.name);
    if (!w) this.windows.set(key.name, (w = []));
    // Older than a minute, or (the clock set back) not yet come: out of the window.
    while (w.length && (w[0]! <= now - 60_000 || w[0]! > now)) w.shift();
    if (w.length >= key.rpm) {
      const wait = Math.max(1, Math.ceil((w[0]! + 60_000 - now) / 1000));
      throw new HttpError("rate_limited", `the API key "${key.name}" is over its limit of ${key.rpm} requests per minute; retry in ${wait} s`).after(wait);
    }
    w.push(now);
    return now;
  }
}

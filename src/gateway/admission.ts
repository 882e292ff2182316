// Who may use the broker: the caller's key (Bearer or x-api-key), whether one is needed, its model allowlist and its limits.
import type { Admitted, Caller, CallerClass } from "../core/contracts.ts";
import { HttpError } from "../core/http-error.ts";
import { isLoopbackHost } from "../net/host.ts";
import { BudgetHolds, holdFor } from "./budget.ts";
import type { KeyStore } from "./key-store.ts";
import { expired, KEY_PREFIX, modelAllowed, type KeyRecord } from "./keys.ts";

export type RequireKey = "auto" | "always" | "never";
export type { Admitted, Caller, CallerClass };

export function callerClass(c: Caller): CallerClass {
  if (c.source === "tunnel") return "tunnel";
  return c.ip !== null && isLoopbackHost(c.ip) ? "local" : "lan";
}

/** The key a request presents: `Authorization: Bearer …` (what the ollama, openai and AI SDK clients send) or `x-api-key`. */
export function presentedKey(headers: Headers): string | null {
  const x = headers.get("x-api-key")?.trim();
  if (x) return x;
  const auth = headers.get("authorization");
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m ? m[1]! : null;
}

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
  admit(headers: Headers, caller: Caller): Admitted {
    const cls = callerClass(caller);
    const sent = presentedKey(headers);
    const isKey = sent !== null && sent.startsWith(KEY_PREFIX);
    if (!isKey) {
      if (this.needsKey(cls)) throw new HttpError("unauthorized", `an API key is required for callers ${cls === "tunnel" ? "through the tunnel" : "from another machine"}: ${HOW}`);
      return { key: null, caller: cls };
    }
    const key = this.store.lookup(sent);
    if (!key) throw new HttpError("unauthorized", `the API key ${sent.slice(0, 8)}… is not known (revoked, or mistyped): ${HOW}`);
    if (expired(key, this.now())) throw new HttpError("unauthorized", `the API key "${key.name}" expired at ${key.expires_at}`);
    return { key, caller: cls };
  }

  /**
   * What the admitted caller may do with this request: the key's model allowlist (403) and its requests per minute (429
   * with Retry-After). `model` undefined is a route without one (the model lists); null is a request that names none;
   * `alias` is the name the caller sent when `model` is the model it stands for: allowing either is enough.
   */
  authorize(a: Admitted, model: string | null | undefined, alias?: string): void {
    const key = a.key;
    if (!key) return;
    if (model !== undefined && !modelAllowed(key.models, model) && !(alias !== undefined && modelAllowed(key.models, alias)))
      throw new HttpError("forbidden", model === null ? `the API key "${key.name}" may use only some models (${key.models.join(", ")}) and this request names none` : `the API key "${key.name}" may not use model "${model}" (allowed: ${key.models.join(", ")})`);
    if (key.tokens_per_day > 0) {
      const used = this.tokensToday(key.name);
      if (used >= key.tokens_per_day) {
        const now = this.now();
        const midnight = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1);
        const wait = (midnight - now) / 1000;
        throw new HttpError("rate_limited", `the API key "${key.name}" used its ${key.tokens_per_day} tokens for today (${used} used); it resets at 00:00 UTC`).after(wait);
      }
    }
    if (key.rpm > 0) this.countRequest(key, this.now());
  }

  /**
   * For an authorized generation request: holds its estimate against the key's tokens_per_day until the release is
   * called (after its use is counted), or refuses it (429) while the day's use and what requests in flight hold reach
   * the budget, so N requests at once cannot each spend the same leftover. Null for a key without a budget.
   */
  reserve(a: Admitted, body: Uint8Array | null, promptTokens: number): (() => void) | null {
    const key = a.key;
    if (!key || key.tokens_per_day <= 0) return null;
    const used = this.tokensToday(key.name);
    const held = this.holds.of(key.name);
    if (used + held >= key.tokens_per_day)
      throw new HttpError("rate_limited", `the API key "${key.name}" has its ${key.tokens_per_day} tokens for today used or held by requests in flight (${used} used, ${held} held); retry when they finish`).after(5);
    return this.holds.hold(key.name, holdFor(body, promptTokens));
  }

  private countRequest(key: KeyRecord, now: number): void {
    let w = this.windows.get(key.name);
    if (!w) this.windows.set(key.name, (w = []));
    while (w.length && w[0]! <= now - 60_000) w.shift();
    if (w.length >= key.rpm) {
      const wait = Math.max(1, Math.ceil((w[0]! + 60_000 - now) / 1000));
      throw new HttpError("rate_limited", `the API key "${key.name}" is over its limit of ${key.rpm} requests per minute; retry in ${wait} s`).after(wait);
    }
    w.push(now);
  }
}

// Dashboard access asked for from the page itself: a pending request with a short code the owner approves (CLI, API,
// tray), bounded in time, number and rate; only the browser that asked (it holds the request's secret) gets the session.
import { createHash } from "node:crypto";

export const ACCESS_COOKIE = "c2l_access";
/** Letters and digits that cannot be misread for one another (no 0/O, 1/I/L, U). */
const ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789";

export interface AccessRequestOptions {
  /** How long a request waits for approval. */
  ttlMs?: number;
  /** Requests waiting at once; beyond it asking is refused until one ends. */
  maxPending?: number;
  /** Requests per minute, whoever asks. */
  perMinute?: number;
  now?: () => number;
}

export interface PendingAccess {
  code: string;
  createdAt: number;
  expiresAt: number;
}

interface Entry extends PendingAccess {
  approved: boolean;
}

export type AskResult = { ok: true; secret: string; code: string; expiresAt: number } | { ok: false; reason: string };
export type AccessState = "pending" | "approved" | "gone";

const hash = (s: string) => createHash("sha256").update(s).digest("base64url");

/** A short code such as "K7QM-3XHD" (about 39 bits): read from a page, typed into a terminal. */
export function newCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let s = "";
  // 256 is not a multiple of 30: the bias (a few codes 1/8 likelier) does not matter, the code is not the secret.
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** The spelling a person may type ("k7qm 3xhd", "K7QM3XHD") as the stored form. */
export function normalizeCode(input: string): string {
  const s = input.toUpperCase().replace(/[^A-Z0-9]/g, "");
  return s.length === 8 ? `${s.slice(0, 4)}-${s.slice(4)}` : s;
}

export class AccessRequests {
  /** hash(secret) → entry. The secret lives only in the asking browser's HttpOnly cookie. */
  private readonly entries = new Map<string, Entry>();
  private readonly asked: number[] = [];
  private readonly ttlMs: number;
  private readonly maxPending: number;
  private readonly perMinute: number;
  private readonly now: () => number;

  constructor(opts: AccessRequestOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 120_000;
    this.maxPending = opts.maxPending ?? 4;
    this.perMinute = opts.perMinute ?? 6;
    this.now = opts.now ?? Date.now;
  }

  /** A new request, or why not (too many waiting, or asked too often). */
  ask(): AskResult {
    this.prune();
    const t = this.now();
    while (this.asked.length && t - this.asked[0]! > 60_000) this.asked.shift();
    if (this.asked.length >= this.perMinute) return { ok: false, reason: "Too many access requests in the last minute; wait a minute and ask again." };
    if (this.waiting().length >= this.maxPending) return { ok: false, reason: "Too many access requests are waiting; approve one or wait two minutes." };
    this.asked.push(t);
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    let code = newCode();
    while (this.byCode(code)) code = newCode();
    const e: Entry = { code, createdAt: t, expiresAt: t + this.ttlMs, approved: false };
    this.entries.set(hash(secret), e);
    return { ok: true, secret, code, expiresAt: e.expiresAt };
  }

  /** Approves the waiting request with this code (the caller holds the token); false for an unknown, spent or expired code. */
  approve(input: string): boolean {
    this.prune();
    const e = this.byCode(normalizeCode(input));
    if (!e || e.approved) return false;
    e.approved = true;
    return true;
  }

  /** Refuses (forgets) the waiting request with this code. */
  deny(input: string): boolean {
    this.prune();
    const code = normalizeCode(input);
    for (const [k, e] of this.entries) if (e.code === code) return this.entries.delete(k);
    return false;
  }

  /** Where the request of this secret stands; "approved" is answered once, then the request is gone (one-time). */
  claim(secret: string | null | undefined): { state: AccessState; code?: string; expiresAt?: number } {
    if (!secret) return { state: "gone" };
    this.prune();
    const k = hash(secret);
    const e = this.entries.get(k);
    if (!e) return { state: "gone" };
    if (e.approved) {
      this.entries.delete(k);
      return { state: "approved", code: e.code };
    }
    return { state: "pending", code: e.code, expiresAt: e.expiresAt };
  }

  /** The requests waiting for approval, oldest first (for the tray and `dashboard approve` without a code). */
  waiting(): PendingAccess[] {
    this.prune();
    return [...this.entries.values()].filter((e) => !e.approved).map(({ code, createdAt, expiresAt }) => ({ code, createdAt, expiresAt }));
  }

  private byCode(code: string): Entry | undefined {
    for (const e of this.entries.values()) if (e.code === code) return e;
    return undefined;
  }

  private prune(): void {
    const t = this.now();
    // An approved request not yet claimed expires too: approval does not extend it.
    for (const [k, e] of this.entries) if (t > e.expiresAt) this.entries.delete(k);
  }
}

const tables = new WeakMap<object, AccessRequests>();
/** The one table of a daemon (keyed by its context), like sessionsFor(). */
export function accessRequestsFor(owner: object): AccessRequests {
  let a = tables.get(owner);
  if (!a) tables.set(owner, (a = new AccessRequests()));
  return a;
}

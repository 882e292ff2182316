// Dashboard sessions: short-lived single-use codes, the HttpOnly session cookie they buy, and CSRF checks for cookie-authenticated changes.
import { createHash, timingSafeEqual } from "node:crypto";
import { requestHost } from "./host.ts";
import { isMutating } from "./policy.ts";

export const SESSION_COOKIE = "c2l_session";
export const CSRF_HEADER = "x-csrf-token";

export interface SessionOptions {
  /** How long a one-time code can be exchanged. */
  codeTtlMs?: number;
  /** How long a session lives after its last use. */
  idleTtlMs?: number;
  /** Hard limit on a session's age, used or not. */
  maxAgeMs?: number;
  /** Bounded memory: beyond these the oldest are forgotten. */
  maxSessions?: number;
  maxCodes?: number;
  /** Injectable clock for tests. */
  now?: () => number;
}

export interface Session {
  /** SHA-256 of the cookie value; the value itself is never stored. */
  key: string;
  csrf: string;
  createdAt: number;
  lastSeen: number;
  expiresAt: number;
}

export interface IssuedCode {
  code: string;
  expiresAt: number;
}

export interface NewSession {
  /** Goes into the cookie only. */
  cookieValue: string;
  csrf: string;
  /** Set-Cookie header value. */
  setCookie: string;
}

function random(bytes = 32): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");
}

/** Map keys are hashes, so a lookup's timing says nothing about the secret values. */
function hash(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Every value of one cookie in a Cookie header. Cookies know no ports: a page on another port of this host (anyone's
 * program) can set one of the same name, which the browser then sends beside ours, a longer path first; whoever reads
 * the cookie tries each value, or that page could end the user's session.
 */
export function readCookies(header: string | null | undefined, name: string): string[] {
  const out: string[] = [];
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const value = part.slice(eq + 1).trim();
    if (value && part.slice(0, eq).trim() === name) out.push(value);
  }
  return out;
}

/** The first value of one cookie from a Cookie header. */
export function readCookie(header: string | null | undefined, name: string): string | null {
  return readCookies(header, name)[0] ?? null;
}

export class SessionManager {
  private readonly codes = new Map<string, number>(); // hash(code) → expiresAt
  private readonly sessions = new Map<string, Session>(); // hash(cookie) → session
  private readonly codeTtlMs: number;
  private readonly idleTtlMs: number;
  private readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly maxCodes: number;
  private readonly now: () => number;

  constructor(opts: SessionOptions = {}) {
    this.codeTtlMs = opts.codeTtlMs ?? 60_000;
    this.idleTtlMs = opts.idleTtlMs ?? 12 * 3600_000;
    this.maxAgeMs = opts.maxAgeMs ?? 7 * 24 * 3600_000;
    this.maxSessions = opts.maxSessions ?? 32;
    this.maxCodes = opts.maxCodes ?? 16;
    this.now = opts.now ?? Date.now;
  }

  /** A code for the one-time URL; only a caller holding the API token should get here. */
  issueCode(): IssuedCode {
    this.prune();
    const code = random(24);
    const expiresAt = this.now() + this.codeTtlMs;
    this.codes.set(hash(code), expiresAt);
    // Maps iterate in insertion order: the first key is the oldest.
    while (this.codes.size > this.maxCodes) this.codes.delete(this.codes.keys().next().value!);
    return { code, expiresAt };
  }

  /** Trades a code for a session; the code is spent whether or not it was still valid. Null when unknown, used or expired. */
  exchange(code: string | null | undefined): NewSession | null {
    if (!code) return null;
    const key = hash(code);
    const expiresAt = this.codes.get(key);
    this.codes.delete(key);
    if (expiresAt === undefined || this.now() > expiresAt) return null;
    const cookieValue = random(32);
    const t = this.now();
    const s: Session = { key: hash(cookieValue), csrf: random(24), createdAt: t, lastSeen: t, expiresAt: t + this.maxAgeMs };
    this.sessions.set(s.key, s);
    while (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    return { cookieValue, csrf: s.csrf, setCookie: this.setCookie(cookieValue) };
  }

  /** The session named by the request's cookie, or null; a valid one is kept alive. */
  fromCookieHeader(header: string | null | undefined): Session | null {
    for (const value of readCookies(header, SESSION_COOKIE)) {
      const s = this.sessions.get(hash(value));
      if (!s) continue;
      const t = this.now();
      if (t > s.expiresAt || t - s.lastSeen > this.idleTtlMs) {
        this.sessions.delete(s.key);
        continue;
      }
      s.lastSeen = t;
      return s;
    }
    return null;
  }

  fromRequest(req: Request): Session | null {
    return this.fromCookieHeader(req.headers.get("cookie"));
  }

  /** Ends every session and forgets every unspent code: the API token they were bought with was rotated. */
  revokeAll(): void {
    this.codes.clear();
    this.sessions.clear();
  }

  /** Ends the session of this cookie header (sign-out). */
  revoke(header: string | null | undefined): boolean {
    let ended = false;
    for (const value of readCookies(header, SESSION_COOKIE)) ended = this.sessions.delete(hash(value)) || ended;
    return ended;
  }

  checkCsrf(session: Session, token: string | null | undefined): boolean {
    return !!token && safeEqual(session.csrf, token);
  }

  setCookie(value: string): string {
    const maxAge = Math.floor(this.maxAgeMs / 1000);
    return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}`;
  }

  /** Set-Cookie value that removes the cookie. */
  clearCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  counts(): { codes: number; sessions: number } {
    return { codes: this.codes.size, sessions: this.sessions.size };
  }

  private prune(): void {
    const t = this.now();
    for (const [k, exp] of this.codes) if (t > exp) this.codes.delete(k);
    for (const [k, s] of this.sessions) if (t > s.expiresAt || t - s.lastSeen > this.idleTtlMs) this.sessions.delete(k);
  }
}

const managers = new WeakMap<object, SessionManager>();
/** The one session table of a daemon (keyed by its context), shared by the dashboard routes and authenticate(). */
export function sessionsFor(owner: object): SessionManager {
  let m = managers.get(owner);
  if (!m) managers.set(owner, (m = new SessionManager()));
  return m;
}

/**
 * Why a cookie-authenticated request may not change anything, or null when it may.
 * A browser sends the cookie with any same-site request (another port on localhost is the same site),
 * so a change also needs the page's CSRF token in a header and an Origin equal to the API's own.
 */
export function csrfProblem(req: Request, session: Session, sessions: SessionManager): string | null {
  if (!isMutating(req.method)) return null;
  const origin = req.headers.get("origin");
  const host = requestHost(req);
  if (!origin || !host) return "a change made with the dashboard cookie needs an Origin header";
  let originHost: string;
  try {
    const u = new URL(origin);
    if (u.protocol !== "http:" && u.protocol !== "https:") return `origin ${origin} is not the dashboard's`;
    originHost = u.host;
  } catch {
    return `origin ${origin} is not the dashboard's`;
  }
  if (originHost.toLowerCase() !== host.toLowerCase()) return `origin ${origin} is not the dashboard's`;
  const site = req.headers.get("sec-fetch-site");
  if (site && site !== "same-origin") return `a ${site} request may not change anything with the dashboard cookie`;
  if (!sessions.checkCsrf(session, req.headers.get(CSRF_HEADER))) return `the ${CSRF_HEADER} header is missing or wrong`;
  return null;
}

// Unit tests for dashboard sessions: single-use codes, expiry, cookie attributes, CSRF and Origin checks.
import { describe, expect, test } from "bun:test";
import { CSRF_HEADER, csrfProblem, readCookie, SESSION_COOKIE, SessionManager } from "./sessions.ts";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function cookieOf(setCookie: string): string {
  return setCookie.split(";")[0]!;
}

describe("one-time codes", () => {
  test("a code buys exactly one session and cannot be used twice", () => {
    const m = new SessionManager();
    const { code } = m.issueCode();
    const first = m.exchange(code);
    expect(first).not.toBeNull();
    expect(m.exchange(code)).toBeNull();
    expect(m.fromCookieHeader(cookieOf(first!.setCookie))).not.toBeNull();
  });

  test("a code expires after its TTL, and an expired attempt spends it", () => {
    const c = clock();
    const m = new SessionManager({ codeTtlMs: 60_000, now: c.now });
    const a = m.issueCode();
    const b = m.issueCode();
    c.advance(60_001);
    expect(m.exchange(a.code)).toBeNull();
    expect(m.counts().codes).toBe(1);
    expect(m.exchange(b.code)).toBeNull();
    expect(m.counts().codes).toBe(0);
  });

  test("a code is accepted just before expiry", () => {
    const c = clock();
    const m = new SessionManager({ codeTtlMs: 60_000, now: c.now });
    const a = m.issueCode();
    c.advance(59_999);
    expect(m.exchange(a.code)).not.toBeNull();
  });

  test("unknown, empty and made-up codes are refused", () => {
    const m = new SessionManager();
    m.issueCode();
    expect(m.exchange("")).toBeNull();
    expect(m.exchange(null)).toBeNull();
    expect(m.exchange("not-a-code")).toBeNull();
  });

  test("outstanding codes are bounded", () => {
    const m = new SessionManager({ maxCodes: 4 });
    const first = m.issueCode();
    for (let i = 0; i < 10; i++) m.issueCode();
    expect(m.counts().codes).toBe(4);
    expect(m.exchange(first.code)).toBeNull();
  });
});

describe("session cookie", () => {
  test("is HttpOnly, SameSite=Strict, Path=/ and carries no token", () => {
    const m = new SessionManager();
    const s = m.exchange(m.issueCode().code)!;
    const attrs = s.setCookie.split(";").map((x) => x.trim());
    expect(attrs[0]).toStartWith(`${SESSION_COOKIE}=`);
    expect(attrs).toContain("HttpOnly");
    expect(attrs).toContain("SameSite=Strict");
    expect(attrs).toContain("Path=/");
    expect(attrs.some((a) => /^Max-Age=\d+$/.test(a))).toBe(true);
    // Cookie value and CSRF token are independent random values.
    expect(s.cookieValue).not.toBe(s.csrf);
    expect(s.cookieValue.length).toBeGreaterThanOrEqual(40);
  });

  test("expires after idle time and after its maximum age, even when used", () => {
    const c = clock();
    const m = new SessionManager({ idleTtlMs: 1000, maxAgeMs: 5000, now: c.now });
    const cookie = cookieOf(m.exchange(m.issueCode().code)!.setCookie);
    c.advance(900);
    expect(m.fromCookieHeader(cookie)).not.toBeNull();
    c.advance(900); // 900 ms since last use: still alive
    expect(m.fromCookieHeader(cookie)).not.toBeNull();
    c.advance(1001);
    expect(m.fromCookieHeader(cookie)).toBeNull();

    const cookie2 = cookieOf(m.exchange(m.issueCode().code)!.setCookie);
    for (let i = 0; i < 6; i++) {
      c.advance(900);
      if (i < 5) expect(m.fromCookieHeader(cookie2)).not.toBeNull();
    }
    expect(m.fromCookieHeader(cookie2)).toBeNull();
  });

  test("a wrong cookie value finds no session; revoke ends one", () => {
    const m = new SessionManager();
    const cookie = cookieOf(m.exchange(m.issueCode().code)!.setCookie);
    expect(m.fromCookieHeader(`${SESSION_COOKIE}=nope`)).toBeNull();
    expect(m.fromCookieHeader(`other=1; ${cookie}; x=y`)).not.toBeNull();
    expect(m.revoke(cookie)).toBe(true);
    expect(m.fromCookieHeader(cookie)).toBeNull();
  });

  test("a cookie of the same name set by a page on another port of this host (sent first, by its longer path) does not hide the session", () => {
    const m = new SessionManager();
    const cookie = cookieOf(m.exchange(m.issueCode().code)!.setCookie);
    expect(m.fromCookieHeader(`${SESSION_COOKIE}=tossed; ${SESSION_COOKIE}=; ${cookie}`)).not.toBeNull();
    // Sign-out ends the real one whatever else came along.
    expect(m.revoke(`${SESSION_COOKIE}=tossed; ${cookie}`)).toBe(true);
    expect(m.fromCookieHeader(cookie)).toBeNull();
  });

  test("readCookie picks the named cookie", () => {
    expect(readCookie("a=1; c2l_session=abc; b=2", "c2l_session")).toBe("abc");
    expect(readCookie("a=1", "c2l_session")).toBeNull();
    expect(readCookie(null, "c2l_session")).toBeNull();
  });
});

describe("CSRF for cookie-authenticated changes", () => {
  const origin = "http://127.0.0.1:8765";
  function setup() {
    const m = new SessionManager();
    const s = m.exchange(m.issueCode().code)!;
    const session = m.fromCookieHeader(cookieOf(s.setCookie))!;
    return { m, s, session };
  }
  const req = (method: string, headers: Record<string, string>) =>
    new Request("http://127.0.0.1:8765/api/v1/tunnel/restart", { method, headers: { host: "127.0.0.1:8765", ...headers } });

  test("reads need no CSRF token", () => {
    const { m, session } = setup();
    expect(csrfProblem(req("GET", {}), session, m)).toBeNull();
  });

  test("a change with the right token and the API's own origin passes", () => {
    const { m, s, session } = setup();
    expect(csrfProblem(req("POST", { origin, [CSRF_HEADER]: s.csrf, "sec-fetch-site": "same-origin" }), session, m)).toBeNull();
  });

  test("a change without the token, with a wrong one, or with another session's is refused", () => {
    const { m, session } = setup();
    const other = m.exchange(m.issueCode().code)!;
    expect(csrfProblem(req("POST", { origin }), session, m)).toContain(CSRF_HEADER);
    expect(csrfProblem(req("PUT", { origin, [CSRF_HEADER]: "wrong" }), session, m)).toContain(CSRF_HEADER);
    expect(csrfProblem(req("DELETE", { origin, [CSRF_HEADER]: other.csrf }), session, m)).toContain(CSRF_HEADER);
  });

  test("a change from another origin (even another port on the same host) or with no Origin is refused", () => {
    const { m, s, session } = setup();
    expect(csrfProblem(req("POST", { origin: "http://127.0.0.1:3000", [CSRF_HEADER]: s.csrf }), session, m)).toContain("origin");
    expect(csrfProblem(req("POST", { origin: "http://evil.example", [CSRF_HEADER]: s.csrf }), session, m)).toContain("origin");
    expect(csrfProblem(req("POST", { origin: "null", [CSRF_HEADER]: s.csrf }), session, m)).toContain("origin");
    expect(csrfProblem(req("POST", { [CSRF_HEADER]: s.csrf }), session, m)).toContain("Origin");
    expect(csrfProblem(req("POST", { origin, [CSRF_HEADER]: s.csrf, "sec-fetch-site": "same-site" }), session, m)).toContain("same-site");
  });
});

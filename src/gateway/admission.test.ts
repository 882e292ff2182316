import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpError } from "../core/http-error.ts";
import { Admission, callerClass, presentedKey, type RequireKey } from "./admission.ts";
import { KeyStore } from "./key-store.ts";
import { createKey } from "./keys.ts";
import { UsageLedger } from "./usage-ledger.ts";

const NO_LIMITS = { models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null };
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup(mode: RequireKey = "auto") {
  const d = mkdtempSync(join(tmpdir(), "c2l-adm-"));
  dirs.push(d);
  let now = Date.parse("2026-12-01T00:00:00Z");
  const store = new KeyStore(join(d, "keys.json"), () => now, 0);
  let m = mode;
  const admission = new Admission(store, () => m, () => now);
  // Both steps, as the broker takes them: who (before the body is read), then what (once the model is known).
  const adm = {
    check(h: Headers, c: Parameters<Admission["admit"]>[1], model: string | null | undefined) {
      const a = admission.admit(h, c);
      admission.authorize(a, model);
      return a;
    },
    unqueued: (a: ReturnType<Admission["admit"]>) => admission.unqueued(a),
  };
  return { store, adm, admission: (s: KeyStore) => new Admission(s, () => m, () => now), tick: (ms: number) => (now += ms), setMode: (x: RequireKey) => (m = x) };
}
const LAN = { source: "local" as const, ip: "10.9.0.2" };
const LOCAL = { source: "local" as const, ip: "127.0.0.1" };
const TUNNEL = { source: "tunnel" as const, ip: null };
const bearer = (k: string) => new Headers({ authorization: `Bearer ${k}` });

function refusal(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    return e as HttpError;
  }
  throw new Error("admitted");
}

test("caller classes and the two ways to send a key", () => {
  expect([callerClass(LOCAL), callerClass({ source: "local", ip: "::1" }), callerClass({ source: "local", ip: "::ffff:127.0.0.1" }), callerClass(LAN), callerClass(TUNNEL)]).toEqual(["local", "local", "local", "lan", "tunnel"]);
  expect(callerClass({ source: "local", ip: null })).toBe("lan"); // unknown peer: not trusted as local
  expect(presentedKey(new Headers({ "x-api-key": " c2l_abc " }))).toBe("c2l_abc");
  expect(presentedKey(bearer("c2l_abc"))).toBe("c2l_abc");
  expect(presentedKey(new Headers({ authorization: "Basic eDp5" }))).toBeNull();
});

test("auto: loopback and tunnel callers need no key, another machine does; always and never", () => {
  const { adm, setMode } = setup("auto");
  expect(adm.check(new Headers(), LOCAL, "m").key).toBeNull();
  expect(adm.check(bearer("ollama"), TUNNEL, "m").key).toBeNull(); // a placeholder bearer is not a key
  const e = refusal(() => adm.check(bearer("ollama"), LAN, "m"));
  expect([e.status, e.code]).toEqual([401, "unauthorized"]);
  expect(e.message).toContain("an API key is required for callers from another machine");
  setMode("always");
  expect(refusal(() => adm.check(new Headers(), LOCAL, "m")).status).toBe(401);
  // Said of the caller it refuses: under "always" one on this machine is not told it calls from another one.
  expect(refusal(() => adm.check(new Headers(), LOCAL, "m")).message).toStartWith("an API key is required for callers on this machine:");
  setMode("never");
  expect(adm.check(new Headers(), LAN, "m").key).toBeNull();
});

test("a sent key is always checked: unknown, revoked or expired is 401 even where none is needed", () => {
  const { store, adm, tick } = setup();
  const k = createKey("ci", { ...NO_LIMITS, expiresInMs: 60_000 }, new Date("2026-12-01T00:00:00Z"));
  store.add(k.record);
  expect(adm.check(bearer(k.key), LOCAL, "m").key?.name).toBe("ci");
  expect(refusal(() => adm.check(bearer("c2l_wrong"), LOCAL, "m")).message).toContain("c2l_wron… is not known");
  tick(60_000);
  expect(refusal(() => adm.check(bearer(k.key), LAN, "m")).message).toContain('the API key "ci" expired');
  store.revoke("ci");
  expect(refusal(() => adm.check(new Headers({ "x-api-key": k.key }), LOCAL, "m")).status).toBe(401);
});

test("after a wait in the queue the key is checked again: revoked, replaced by a new key of its name, or expired meanwhile is 401", () => {
  const { store, admission, tick } = setup();
  const adm = admission(store);
  const k = createKey("ci", { ...NO_LIMITS, expiresInMs: 60_000 }, new Date("2026-12-01T00:00:00Z"));
  store.add(k.record);
  const a = adm.admit(bearer(k.key), TUNNEL);
  adm.recheck(a); // still valid: nothing thrown
  adm.recheck(adm.admit(new Headers(), TUNNEL)); // no key: nothing to check
  tick(60_000);
  expect(refusal(() => adm.recheck(a)).message).toBe('the API key "ci" expired at 2026-12-01T00:01:00.000Z while its request waited in the queue');
  store.revoke("ci");
  const e = refusal(() => adm.recheck(a));
  expect([e.status, e.message]).toEqual([401, 'the API key "ci" was revoked while its request waited in the queue']);
  // A new key under the same name is another key: the old one's queued requests do not pass as it. A key that never
  // expires, so the refusal is for the replacement (the key above would be refused as expired whatever the check did).
  const lasting = createKey("ci2", NO_LIMITS);
  store.add(lasting.record);
  const queued = adm.admit(bearer(lasting.key), TUNNEL);
  store.revoke("ci2");
  store.add(createKey("ci2", NO_LIMITS).record);
  const replaced = refusal(() => adm.recheck(queued));
  expect([replaced.status, replaced.message]).toEqual([401, 'the API key "ci2" was revoked while its request waited in the queue']);
});

test("after a wait in the queue a caller without a key is checked again: require_key tightened meanwhile is 401", () => {
  const { store, admission, setMode } = setup("auto");
  const adm = admission(store);
  const tunnel = adm.admit(new Headers(), TUNNEL);
  const local = adm.admit(new Headers(), LOCAL);
  adm.recheck(tunnel); // auto: the tunnel's callers need none, nothing thrown
  setMode("always");
  const e = refusal(() => adm.recheck(tunnel));
  expect([e.status, e.code, e.message]).toEqual([401, "unauthorized", 'an API key is required for callers through the tunnel ([proxy] require_key changed to "always" while the request waited in the queue): send it as `Authorization: Bearer c2l_…` or `x-api-key` (create one with `cloudtolocalllm-tunnel key create NAME`)']);
  expect(refusal(() => adm.recheck(local)).message).toContain("an API key is required for callers on this machine ([proxy] require_key changed");
  setMode("never");
  adm.recheck(tunnel); // loosened: nothing thrown
});

test("the model allowlist is 403 naming the key, the model and what is allowed", () => {
  const { store, adm, admission } = setup();
  const k = createKey("editor", { ...NO_LIMITS, models: ["llama3*"] });
  store.add(k.record);
  expect(adm.check(bearer(k.key), LAN, "llama3.2:1b").key?.name).toBe("editor");
  const e = refusal(() => adm.check(bearer(k.key), LAN, "qwen2.5:0.5b"));
  expect([e.status, e.code, e.message]).toEqual([403, "forbidden", 'the API key "editor" may not use model "qwen2.5:0.5b" (allowed: llama3*)']);
  expect(adm.check(bearer(k.key), LAN, undefined).key?.name).toBe("editor"); // the model lists name no model
  expect(refusal(() => adm.check(bearer(k.key), LAN, null)).message).toContain("this request names none");
  // Through an alias either name may be the allowed one: the alias the caller sent, or the model it stands for.
  const direct = admission(store);
  const a = direct.admit(bearer(k.key), LAN);
  expect(() => direct.authorize(a, "llama3.2:3b", "gpt-4o-mini")).not.toThrow();
  expect(() => direct.authorize(a, "qwen2.5:0.5b", "gpt-4o-mini")).toThrow("may not use model");
});

test("rpm: the request over the limit is 429 with Retry-After until the oldest leaves the minute", () => {
  const { store, adm, tick } = setup();
  const k = createKey("bot", { ...NO_LIMITS, rpm: 2 });
  store.add(k.record);
  adm.check(bearer(k.key), LAN, "m");
  tick(20_000);
  adm.check(bearer(k.key), LAN, "m");
  tick(10_000);
  const e = refusal(() => adm.check(bearer(k.key), LAN, "m"));
  expect([e.status, e.code, e.retryAfter]).toEqual([429, "rate_limited", 30]);
  const res = e.toDialectResponse("/api/chat");
  expect(res.headers.get("retry-after")).toBe("30");
  tick(30_000);
  expect(adm.check(bearer(k.key), LAN, "m").key?.name).toBe("bot");
});

test("rpm: a request that reached no upstream gives back its own place in the minute, not the newest one (others counted while it waited)", () => {
  const { store, adm, tick } = setup();
  const k = createKey("bot", { ...NO_LIMITS, rpm: 2 });
  store.add(k.record);
  const waited = adm.check(bearer(k.key), LAN, "m");
  tick(40_000);
  adm.check(bearer(k.key), LAN, "m");
  // The first times out in the queue (503): its place (at 0 s) leaves the window; the one counted at 40 s stays.
  adm.unqueued(waited);
  adm.unqueued(waited);
  tick(21_000);
  adm.check(bearer(k.key), LAN, "m");
  const e = refusal(() => adm.check(bearer(k.key), LAN, "m"));
  expect([e.status, e.code, e.retryAfter]).toEqual([429, "rate_limited", 39]);
});

test("tokens_per_day: requests in flight hold an estimate, so parallel requests cannot all spend the same leftover", () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-adm-"));
  dirs.push(d);
  const store = new KeyStore(join(d, "keys.json"), () => Date.parse("2026-12-01T00:00:00Z"), 0);
  let used = 0;
  const admission = new Admission(store, () => "auto", () => Date.parse("2026-12-01T00:00:00Z"), () => used);
  const k = createKey("meter", { ...NO_LIMITS, tokens_per_day: 1000 });
  store.add(k.record);
  const free = createKey("free", NO_LIMITS);
  store.add(free.record);
  const a = admission.admit(bearer(k.key), LAN);
  // No budget: nothing held.
  expect(admission.reserve(admission.admit(bearer(free.key), LAN), null, 10)).toBeNull();
  // The prompt's estimate plus the generation limit (at least the default 512): 20 + 600.
  const body = new TextEncoder().encode('{"model":"m","options":{"num_predict":600}}');
  const first = admission.reserve(a, body, 20)!;
  expect(admission.holds.of("meter")).toBe(620);
  const second = admission.reserve(a, null, 20)!;
  expect(admission.holds.of("meter")).toBe(620 + 532);
  // 0 used + 1152 held >= 1000: the third waits for them (a short Retry-After, not until midnight).
  const e = refusal(() => admission.reserve(a, null, 20));
  expect([e.status, e.code, e.retryAfter]).toEqual([429, "rate_limited", 5]);
  expect(e.message).toBe('the API key "meter" has its 1000 tokens for today used or held by requests in flight (0 used, 1152 held); retry when they finish');
  // The first ends having used 300 (counted by the ledger before its release); its hold goes, once.
  used = 300;
  first();
  first();
  expect(admission.holds.of("meter")).toBe(532);
  const third = admission.reserve(a, null, 20)!;
  second();
  third();
  expect(admission.holds.of("meter")).toBe(0);
  used = 1000;
  expect(refusal(() => admission.authorize(a, "m")).message).toContain("used its 1000 tokens for today");
});

test("a key in any header is checked: beside a placeholder bearer, in a second header, in api-key, in a Basic credential", () => {
  const { store, adm } = setup();
  const k = createKey("ci", NO_LIMITS);
  store.add(k.record);
  // The issue's case: the placeholder OpenAI clients send, and an unknown key beside it.
  const both = new Headers({ authorization: "Bearer ollama", "x-api-key": "c2l_unknown" });
  expect(refusal(() => adm.check(both, LOCAL, "m")).status).toBe(401);
  const elsewhere: Record<string, string>[] = [{ "api-key": "c2l_unknown" }, { "proxy-authorization": "Bearer c2l_unknown" }, { "x-goog-api-key": "c2l_unknown" }, { authorization: `Basic ${btoa("user:c2l_unknown")}` }];
  for (const h of elsewhere)
    expect(refusal(() => adm.check(new Headers(h), LOCAL, "m")).message).toContain("c2l_unkn… is not known");
  // A valid key wherever it is sent is the key in force, with its limits (not ignored for a placeholder elsewhere).
  expect(adm.check(new Headers({ "x-api-key": "ollama", authorization: `Bearer ${k.key}` }), LOCAL, "m").key?.name).toBe("ci");
  expect(adm.check(new Headers({ authorization: `Basic ${btoa(`:${k.key}`)}` }), LAN, "m").key?.name).toBe("ci");
  expect(adm.check(new Headers({ "x-api-key": k.key, authorization: `Bearer ${k.key}` }), LAN, "m").key?.name).toBe("ci"); // the same key twice is one key
  // Not keys: the dashboard's session cookie name, a c2l_ inside another word, a Basic credential without one.
  expect(adm.check(new Headers({ cookie: "c2l_session=abc; theme=dark", "user-agent": "my-c2l_tool/1", "x-c2l-relay-node": "c2l_east" }), LOCAL, "m").key).toBeNull();
  expect(presentedKey(new Headers({ authorization: "Basic eDp5" }))).toBeNull();
  expect(presentedKey(new Headers({ cookie: `c2l_session=x; k=${k.key}` }))).toBe(k.key);
});

test("two different keys in one request are 400, naming the headers and never a whole key", () => {
  const { store, adm } = setup();
  const a = createKey("a", NO_LIMITS);
  const b = createKey("b", NO_LIMITS);
  store.add(a.record);
  store.add(b.record);
  const e = refusal(() => adm.check(new Headers({ authorization: `Bearer ${a.key}`, "x-api-key": b.key }), LAN, "m"));
  expect([e.status, e.code]).toEqual([400, "bad_request"]);
  expect(e.message).toMatch(/^the request carries two different API keys \(c2l_.{4}… in authorization, c2l_.{4}… in x-api-key\); send one$/);
  expect(e.message).not.toContain(a.key);
  expect(refusal(() => adm.check(new Headers({ "x-api-key": `${a.key}, ${b.key}` }), LOCAL, "m")).status).toBe(400);
  expect(refusal(() => adm.check(new Headers({ "x-api-key": a.key, "api-key": "c2l_unknown" }), LOCAL, "m")).status).toBe(400);
  // Authorization sent twice arrives joined by ", ": a Basic credential before or after a bearer key is read too.
  const basic = (k: string) => `Basic ${btoa(`u:${k}`)}`;
  for (const joined of [`${basic(b.key)}, Bearer ${a.key}`, `Bearer ${a.key}, ${basic(b.key)}`, `${basic(a.key)}, ${basic(b.key)}`]) {
    const h = new Headers();
    for (const part of joined.split(", ")) h.append("authorization", part);
    expect({ joined, status: refusal(() => adm.check(h, LOCAL, "m")).status }).toEqual({ joined, status: 400 });
  }
  expect(adm.check(new Headers({ authorization: `${basic(a.key)}` }), LAN, "m").key?.name).toBe("a");
  expect(presentedKey(new Headers({ authorization: "Bearer ollama, Basic eDp5" }))).toBeNull();
});

test("model management needs the key's permission; then every model the body names must be allowed", () => {
  const { store, admission } = setup();
  const plain = createKey("plain", NO_LIMITS);
  const admin = createKey("admin", { ...NO_LIMITS, models: ["llama3*"], allow_model_management: true });
  store.add(plain.record);
  store.add(admin.record);
  expect(plain.record.allow_model_management).toBe(false);
  const adm = admission(store);
  const req = (path: string, others: string[] = [], extra: Partial<{ opaque: string; complete: boolean; cut: "limit" | "budget"; encoding: string }> = {}) => ({ path, others, opaque: null, complete: true, cut: null, encoding: null, ...extra });
  const p = adm.admit(bearer(plain.key), LAN);
  for (const path of ["/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete", "/api/blobs/sha256:00"]) {
    const e = refusal(() => adm.authorize(p, "llama3.2:1b", undefined, req(path)));
    expect([e.status, e.message]).toEqual([403, `the API key "plain" may not manage models (${path}); create a key with --allow-model-management for that`]);
  }
  expect(() => adm.authorize(p, "llama3.2:1b", undefined, req("/api/chat"))).not.toThrow();
  const a = adm.admit(bearer(admin.key), LAN);
  expect(() => adm.authorize(a, "llama3.2:1b", undefined, req("/api/copy", ["llama3.2:mine"]))).not.toThrow();
  expect(refusal(() => adm.authorize(a, "qwen2.5:0.5b", undefined, req("/api/copy", ["llama3.2:mine"]))).message).toContain('may not use model "qwen2.5:0.5b"');
  expect(refusal(() => adm.authorize(a, "llama3.2:1b", undefined, req("/api/copy", ["qwen:evil"]))).message).toContain('may not use model "qwen:evil"');
  expect(refusal(() => adm.authorize(a, "llama3.2:mine", undefined, req("/api/create", [], { opaque: "modelfile" }))).message).toContain('"modelfile" names models and files the broker does not read');
  expect(() => adm.authorize(a, undefined, undefined, req("/api/blobs/sha256:00"))).not.toThrow();
  // A body too large to read whole cannot pass a model list (413); a key without one is not asked.
  const big = refusal(() => adm.authorize(a, "llama3.2:1b", undefined, req("/api/chat", [], { complete: false })));
  expect([big.status, big.code]).toEqual([413, "payload_too_large"]);
  // Cut only because the replay buffer is full for now: 503 with Retry-After (read whole a moment later), not 413.
  const busy = refusal(() => adm.authorize(a, "llama3.2:1b", undefined, req("/api/chat", [], { complete: false, cut: "budget" })));
  expect([busy.status, busy.code, busy.retryAfter]).toEqual([503, "unavailable", 1]);
  expect(busy.message).toContain("replay_buffer");
  expect(() => adm.authorize(p, "x", undefined, req("/api/chat", [], { complete: false }))).not.toThrow();
  // A body the broker does not decode (Content-Encoding) may be decoded by the upstream: unreadable, 415.
  const zipped = refusal(() => adm.authorize(a, "llama3.2:1b", undefined, req("/api/chat", [], { encoding: "gzip" })));
  expect([zipped.status, zipped.code]).toEqual([415, "unsupported_media_type"]);
  expect(zipped.message).toContain("Content-Encoding: gzip, which the broker does not decode");
  expect(() => adm.authorize(p, "x", undefined, req("/api/chat", [], { encoding: "gzip" }))).not.toThrow();
  // Without a key (this machine under auto) nothing changes: management as before.
  expect(() => adm.authorize(adm.admit(new Headers(), LOCAL), "x", undefined, req("/api/pull"))).not.toThrow();
  expect([adm.mayUse(a, "llama3.2:1b"), adm.mayUse(a, "qwen2.5:0.5b"), adm.mayUse(p, "qwen2.5:0.5b")]).toEqual([true, false, true]);
  // A key written before the permission existed (no field in keys.json) is read, and may not manage models.
  const old = createKey("old", NO_LIMITS);
  const { allow_model_management: _, ...record } = old.record;
  store.add(record);
  expect(refusal(() => adm.authorize(adm.admit(bearer(old.key), LAN), "m", undefined, req("/api/pull"))).status).toBe(403);
});

test("tokens_per_day resets at 00:00 UTC (the ledger's day), whatever the local time zone: Retry-After says until then", () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-adm-"));
  dirs.push(d);
  const tz = process.env.TZ;
  // Far from UTC: a reset at local midnight would come 14 hours off.
  process.env.TZ = "Pacific/Kiritimati";
  try {
    let now = Date.parse("2026-12-01T23:59:58.500Z");
    const store = new KeyStore(join(d, "keys.json"), () => now, 0);
    const ledger = new UsageLedger(join(d, "usage.json"), () => now);
    const admission = new Admission(store, () => "auto", () => now, (key) => ledger.tokensToday(key));
    const k = createKey("daily", { ...NO_LIMITS, tokens_per_day: 100 });
    store.add(k.record);
    const a = admission.admit(bearer(k.key), LAN);
    ledger.add({ model: "m", status: 200, error: null, promptTokens: 30, completionTokens: 70, key: "daily", caller: "lan", source: "local", queueMs: 0 });
    const e = refusal(() => admission.authorize(a, "m"));
    expect([e.status, e.retryAfter]).toEqual([429, 2]);
    expect(e.message).toContain("it resets at 00:00 UTC");
    now = Date.parse("2026-12-01T23:59:59.999Z");
    expect(refusal(() => admission.authorize(a, "m")).retryAfter).toBe(1);
    now = Date.parse("2026-12-02T00:00:00.000Z");
    admission.authorize(a, "m");
    expect(ledger.tokensToday("daily")).toBe(0);
    // Yesterday's row is still there for the report.
    expect(ledger.query({ key: "daily" }).map((r) => [r.day, r.prompt_tokens + r.completion_tokens])).toEqual([["2026-12-01", 100]]);
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
});

test("across a daylight-saving change (St. John's, UTC−2:30 to −3:30 on 2026-11-01): the budget's day is still the 24 h UTC day, reset at 00:00 UTC, and Retry-After counts to then", () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-adm-"));
  dirs.push(d);
  const tz = process.env.TZ;
  process.env.TZ = "America/St_Johns";
  try {
    // The zone is really in effect: its offset changes at 04:30 UTC that day.
    expect([new Date("2026-11-01T04:29:00Z").getTimezoneOffset(), new Date("2026-11-01T04:31:00Z").getTimezoneOffset()]).toEqual([150, 210]);
    let now = Date.parse("2026-11-01T00:10:00Z"); // 21:40 on 31 October, local time
    const store = new KeyStore(join(d, "keys.json"), () => now, 0);
    const ledger = new UsageLedger(join(d, "usage.json"), () => now);
    const admission = new Admission(store, () => "auto", () => now, (key) => ledger.tokensToday(key));
    const k = createKey("dst", { ...NO_LIMITS, tokens_per_day: 100 });
    store.add(k.record);
    const a = admission.admit(bearer(k.key), LAN);
    const spend = (tokens: number) => ledger.add({ model: "m", status: 200, error: null, promptTokens: 0, completionTokens: tokens, key: "dst", caller: "lan", source: "local", queueMs: 0 });
    spend(40);
    // Before and after the clocks go back: one day, one budget.
    now = Date.parse("2026-11-01T04:29:00Z");
    spend(30);
    now = Date.parse("2026-11-01T04:31:00Z");
    spend(30);
    expect(ledger.tokensToday("dst")).toBe(100);
    const e = refusal(() => admission.authorize(a, "m"));
    expect([e.status, e.retryAfter]).toEqual([429, 19 * 3600 + 29 * 60]);
    // 20:30 local on 1 November: the UTC day has ended, the local one has not.
    now = Date.parse("2026-11-02T00:00:00Z");
    admission.authorize(a, "m");
    expect(ledger.tokensToday("dst")).toBe(0);
    expect(ledger.query({ key: "dst" }).map((r) => [r.day, r.completion_tokens])).toEqual([["2026-11-01", 100]]);
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
});

test("after a wait in the queue the key's budget is checked again: spent meanwhile is 429 until 00:00 UTC", () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-adm-"));
  dirs.push(d);
  const now = Date.parse("2026-12-01T18:00:00Z");
  const store = new KeyStore(join(d, "keys.json"), () => now, 0);
  let used = 0;
  const admission = new Admission(store, () => "auto", () => now, () => used);
  const k = createKey("meter", { ...NO_LIMITS, tokens_per_day: 1000 });
  store.add(k.record);
  const a = admission.admit(bearer(k.key), LAN);
  admission.recheck(a); // within its budget: nothing thrown
  used = 1000;
  const e = refusal(() => admission.recheck(a));
  expect([e.status, e.code, e.retryAfter]).toEqual([429, "rate_limited", 6 * 3600]);
  expect(e.message).toBe('the API key "meter" used its 1000 tokens for today (1000 used) while its request waited in the queue; it resets at 00:00 UTC');
});

test("a request refused for its key's budget (held by requests in flight) is not one of its requests per minute", () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-adm-"));
  dirs.push(d);
  let now = Date.parse("2026-12-01T12:00:00Z");
  const store = new KeyStore(join(d, "keys.json"), () => now, 0);
  const admission = new Admission(store, () => "auto", () => now, () => 0);
  const k = createKey("both", { ...NO_LIMITS, rpm: 2, tokens_per_day: 600 });
  store.add(k.record);
  const a = admission.admit(bearer(k.key), LAN);
  // As the broker takes them: authorize, then the hold.
  const call = () => {
    admission.authorize(a, "m");
    return admission.reserve(a, null, 100);
  };
  const running = call()!;
  // Each retry (5 s apart, as Retry-After says) is refused for the budget held, not for the requests per minute.
  for (let i = 0; i < 4; i++) {
    now += 5000;
    expect(refusal(call).message).toContain("used or held by requests in flight");
  }
  running();
  now += 5000;
  expect(call()).not.toBeNull();
  // Two requests ran this minute: the third is over --rpm.
  expect(refusal(call).message).toContain("over its limit of 2 requests per minute");
});

test("rpm: a clock set back (an hour) does not refuse the key until the clock catches up", () => {
  const { store, adm, tick } = setup();
  const k = createKey("bot", { ...NO_LIMITS, rpm: 1 });
  store.add(k.record);
  adm.check(bearer(k.key), LAN, "m");
  expect(refusal(() => adm.check(bearer(k.key), LAN, "m")).retryAfter).toBe(60);
  tick(-3_600_000);
  expect(adm.check(bearer(k.key), LAN, "m").key?.name).toBe("bot");
});

test("a key with a model list builds models only from blobs it uploaded itself, and sees only those", () => {
  const { store, admission } = setup();
  const admin = createKey("admin", { ...NO_LIMITS, models: ["ok-*"], allow_model_management: true });
  const any = createKey("any", { ...NO_LIMITS, allow_model_management: true });
  store.add(admin.record);
  store.add(any.record);
  const adm = admission(store);
  const a = adm.admit(bearer(admin.key), LAN);
  const own = "sha256:" + "ab".repeat(32);
  const theirs = "sha256:" + "cd".repeat(32);
  const create = (blobs: { field: string; digest: string }[]) => ({ path: "/api/create", method: "POST", others: [], opaque: null, complete: true, cut: null, encoding: null, blobs });
  const head = (digest: string) => ({ path: `/api/blobs/${digest}`, method: "HEAD", others: [], opaque: null, complete: true, cut: null, encoding: null });
  // Another model's weights, named by their (public) digest: refused, naming the field and the digest.
  const e = refusal(() => adm.authorize(a, "ok-new", undefined, create([{ field: "files", digest: theirs }])));
  expect([e.status, e.code]).toEqual([403, "forbidden"]);
  expect(e.message).toBe(`the API key "admin" may use only some models, and "files" names blob ${theirs}, which this key did not upload: upload the file with POST /api/blobs/${theirs} using this key (the broker remembers each key's last 256 uploads), or build from a model this key may use with "from"`);
  expect(refusal(() => adm.authorize(a, "ok-new", undefined, create([{ field: "adapters", digest: theirs }]))).message).toContain('"adapters" names blob');
  expect(refusal(() => adm.authorize(a, "ok-new", undefined, create([{ field: "files", digest: '"x"' }]))).message).toContain('"files" names "x", which is no blob digest');
  // Whether a blob it did not upload exists is not its to learn: Ollama's own "not found".
  const probe = refusal(() => adm.authorize(a, undefined, undefined, head(theirs)));
  expect([probe.status, probe.code]).toEqual([404, "not_found"]);
  // Once it uploaded one (the broker saw its bytes hash to the digest), that one is its own, in either spelling.
  adm.grantBlob(a, own);
  expect(() => adm.authorize(a, "ok-new", undefined, create([{ field: "files", digest: own }, { field: "adapters", digest: "sha256-" + "AB".repeat(32) }]))).not.toThrow();
  expect(() => adm.authorize(a, undefined, undefined, head(own))).not.toThrow();
  expect(refusal(() => adm.authorize(a, "ok-new", undefined, create([{ field: "files", digest: own }, { field: "files", digest: theirs }]))).status).toBe(403);
  // Another key's upload is not this key's; a key without a model list is not asked (as before).
  const b = adm.admit(bearer(any.key), LAN);
  expect(() => adm.authorize(b, "x", undefined, create([{ field: "files", digest: theirs }]))).not.toThrow();
  expect(() => adm.authorize(b, undefined, undefined, head(theirs))).not.toThrow();
  // A key revoked and created again under the same name starts with no blobs.
  store.revoke("admin");
  const again = createKey("admin", { ...NO_LIMITS, models: ["ok-*"], allow_model_management: true });
  store.add(again.record);
  expect(refusal(() => adm.authorize(adm.admit(bearer(again.key), LAN), "ok-new", undefined, create([{ field: "files", digest: own }]))).status).toBe(403);
});

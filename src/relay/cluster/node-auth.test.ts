// Node-to-node signatures: a valid one passes once; another key, receiving node, method, path, query, node, time, nonce, body flag,
// signed header value, header list or an extra header fails; the same signature again is a replay; old ones are stale.
import { expect, test } from "bun:test";
import { NODE_AUTH_HEADER, NODE_HEADERS_HEADER, signNodeRequest, verifyNodeRequest, type SignedRequest } from "./node-auth.ts";
import { ReplayCache } from "./replay-cache.ts";

const key = new TextEncoder().encode("k".repeat(32));
const other = new TextEncoder().encode("o".repeat(32));
const now = 1_800_000_000_000;
const target = "/internal/t/alice/api/chat?x=1";

function sent(r: Partial<SignedRequest> = {}, at = now) {
  const req: SignedRequest = { to: "node-b", method: "POST", target, headers: new Headers({ "content-type": "application/json", "x-c2l-relay-node": "node-a" }), body: "framed", ...r };
  const s = signNodeRequest(key, "node-a", req, at);
  const headers = new Headers(req.headers);
  headers.set(NODE_AUTH_HEADER, s.auth);
  headers.set(NODE_HEADERS_HEADER, s.headerNames);
  // What the HTTP connection adds on its way.
  headers.set("host", "10.0.0.2:8081");
  headers.set("transfer-encoding", "chunked");
  headers.set("user-agent", "Bun/1");
  return { headers, s };
}
const why = (r: ReturnType<typeof verifyNodeRequest>) => (r.ok ? "ok" : r.reason);

test("a signature verifies once for exactly the request it was made for, with only its signed headers", () => {
  const { headers, s } = sent();
  const r = verifyNodeRequest(key, new ReplayCache(30_000, now), "node-b", "post", target, headers, true, now + 1000);
  if (!r.ok) throw new Error(r.reason);
  expect(r.node).toBe("node-a");
  expect(r.request.body).toBe("framed");
  expect([...r.request.headers]).toEqual([["content-type", "application/json"], ["x-c2l-relay-node", "node-a"]]);
  expect(r.signature).toEqual(s.signature);
});

test("each signed part altered is refused", () => {
  const v = (h: Headers, o: { method?: string; target?: string; key?: Uint8Array; body?: boolean; at?: number; to?: string } = {}) =>
    why(verifyNodeRequest(o.key ?? key, new ReplayCache(30_000, 0), o.to ?? "node-b", o.method ?? "POST", o.target ?? target, h, o.body ?? true, o.at ?? now));
  const fresh = () => sent().headers;
  expect(v(fresh(), { key: other })).toMatch(/bad signature/);
  // Sent to node-b: node-c (which has not seen its nonce) refuses it too.
  expect(v(fresh(), { to: "node-c" })).toMatch(/bad signature/);
  expect(v(fresh(), { method: "PUT" })).toMatch(/bad signature/);
  expect(v(fresh(), { target: "/internal/t/bob/api/chat?x=1" })).toMatch(/bad signature/);
  expect(v(fresh(), { target: "/internal/t/alice/api/chat?x=2" })).toMatch(/bad signature/);
  expect(v(fresh(), { target: "/internal/t/alice/api/chat" })).toMatch(/bad signature/);
  const edit = (f: (h: Headers) => void) => {
    const h = fresh();
    f(h);
    return v(h);
  };
  const part = (i: number, to: (p: string) => string) => (h: Headers) => {
    const parts = /^(.+)\.(\d+)\.(.{22})\.([01])\.(.{43})$/.exec(h.get(NODE_AUTH_HEADER)!)!.slice(1);
    parts[i] = to(parts[i]!);
    h.set(NODE_AUTH_HEADER, parts.join("."));
  };
  expect(edit(part(0, () => "node-b"))).toMatch(/bad signature/);
  expect(edit(part(1, (t) => String(Number(t) + 1)))).toMatch(/bad signature/);
  expect(edit(part(2, (n) => (n[0] === "A" ? "B" : "A") + n.slice(1)))).toMatch(/bad signature/);
  expect(edit(part(3, () => "0"))).toMatch(/a body was sent with a request signed without one/);
  expect(edit(part(4, (s) => (s[0] === "A" ? "B" : "A") + s.slice(1)))).toMatch(/bad signature/);
  // A signed header's value, a signed header removed, the list of signed names, an unsigned header added.
  expect(edit((h) => h.set("content-type", "text/plain"))).toMatch(/bad signature/);
  expect(edit((h) => h.delete("x-c2l-relay-node"))).toMatch(/bad signature/);
  expect(edit((h) => h.set(NODE_HEADERS_HEADER, "content-type"))).toMatch(/bad signature/);
  expect(edit((h) => h.set("authorization", "Bearer attacker"))).toMatch(/header authorization is not covered/);
  expect(edit((h) => h.set("x-extra", "1"))).toMatch(/header x-extra is not covered/);
  // A request signed without a body cannot be given one.
  const none = sent({ body: "none", method: "GET" }).headers;
  expect(v(none, { method: "GET", body: true })).toMatch(/signed without one/);
  expect(v(sent({ body: "none", method: "GET" }).headers, { method: "GET", body: false })).toBe("ok");
  // Missing and malformed headers.
  expect(edit((h) => h.delete(NODE_AUTH_HEADER))).toMatch(/missing x-c2l-node-auth/);
  expect(edit((h) => h.set(NODE_AUTH_HEADER, "node-a.abc.def"))).toMatch(/malformed/);
  // The old format (node.time.signature, no nonce) is not accepted.
  expect(edit((h) => h.set(NODE_AUTH_HEADER, `node-a.${now}.${"A".repeat(43)}`))).toMatch(/malformed/);
});

test("the same signed request a second time is a replay, however exact; the cache forgets after the window", () => {
  const cache = new ReplayCache(30_000, 0);
  const { headers } = sent();
  expect(why(verifyNodeRequest(key, cache, "node-b", "POST", target, headers, true, now))).toBe("ok");
  expect(why(verifyNodeRequest(key, cache, "node-b", "POST", target, headers, true, now + 10))).toMatch(/already received \(a replay\)/);
  expect(why(verifyNodeRequest(key, cache, "node-b", "POST", target, headers, true, now + 29_000))).toMatch(/a replay/);
  // Past the window it is stale, and its nonce is no longer held.
  expect(why(verifyNodeRequest(key, cache, "node-b", "POST", target, headers, true, now + 30_001))).toMatch(/stale/);
  expect(why(verifyNodeRequest(key, cache, "node-b", "POST", target, sent({}, now - 31_000).headers, true, now))).toMatch(/stale/);
  // From the future just as much: a clock ahead by more than the window (a signature made to outlive the replay cache).
  expect(why(verifyNodeRequest(key, cache, "node-b", "POST", target, sent({}, now + 31_000).headers, true, now))).toMatch(/stale/);
  cache.accept("x", now + 120_000, now + 120_000);
  expect(cache.size).toBe(1);
  // A node that restarted has forgotten what it accepted: nothing signed before it started is accepted.
  expect(why(verifyNodeRequest(key, new ReplayCache(30_000, now + 5), "node-b", "POST", target, sent().headers, true, now + 10))).toMatch(/signed before this node started/);
  // Two requests signed in the same millisecond have distinct nonces.
  const [a, b] = [sent().headers, sent().headers];
  const c2 = new ReplayCache(30_000, now);
  expect(why(verifyNodeRequest(key, c2, "node-b", "POST", target, a, true, now))).toBe("ok");
  expect(why(verifyNodeRequest(key, c2, "node-b", "POST", target, b, true, now))).toBe("ok");
});

test("a transport header cannot be signed (the connection rewrites it)", () => {
  expect(() => signNodeRequest(key, "n", { to: "m", method: "POST", target, headers: new Headers({ "content-length": "3" }), body: "framed" })).toThrow(/content-length/);
});

// The relay is untrusted: only allowlisted paths pass, model management is opt-in, its credentials never reach local services.
import { expect, test } from "bun:test";
import { DEFAULT_TUNNEL_PATHS } from "../config/schema.ts";
import { checkPath, sanitize, sanitizedHeaders } from "./filter.ts";

const cfg = { allowed_paths: DEFAULT_TUNNEL_PATHS, allow_model_management: false };

test("inference and listing paths pass, with a query string too", () => {
  for (const p of ["/api/chat", "/api/tags", "/v1/chat/completions", "/v1/models?x=1"]) expect(checkPath("POST", p, cfg)).toBeNull();
});

test("model management is refused unless allowed", () => {
  for (const p of ["/api/pull", "/api/delete", "/api/blobs/sha256:abc", "/api/create"]) {
    expect(checkPath("POST", p, cfg)?.status).toBe(403);
    expect(checkPath("POST", p, { ...cfg, allow_model_management: true })).toBeNull();
  }
});

test("the ollama.com account's routes are not opened by allow_model_management: only allowed_paths names them", () => {
  const managing = { ...cfg, allow_model_management: true };
  for (const p of ["/api/me", "/api/signout", "/api/user/keys", "/api/user/keys/abc", "/api/experimental/web_search", "/api/experimental/web_fetch", "/debug/pprof/heap"]) {
    expect(checkPath("POST", p, managing)?.status).toBe(403);
    expect(checkPath("POST", p, cfg)?.status).toBe(403);
  }
  expect(checkPath("POST", "/api/me", { ...managing, allowed_paths: [...DEFAULT_TUNNEL_PATHS, "/api/me"] })).toBeNull();
  // The other kinds' management routes are model management: the opt-in opens them.
  for (const p of ["/models/load", "/api/v1/models/download", "/v1/load_lora_adapter"]) expect(checkPath("POST", p, managing)).toBeNull();
});

test("other paths, and spellings of a refused route, are refused", () => {
  for (const p of ["/", "/api/chat/../pull", "/api/chat%2F..%2Fpull", "//api//pull/", "/API/%70ull", "/metrics", "/api/v1/status", "/api/chat%5cx"]) {
    expect({ p, status: checkPath("POST", p, cfg)?.status }).toEqual({ p, status: 403 });
  }
  // The refusal names the route it was decided on, and the spelling it came as.
  expect(checkPath("POST", "/api/chat%2F..%2Fpull", cfg)?.message).toBe('model management (/api/pull, sent as "/api/chat%2F..%2Fpull") is not allowed through the tunnel; set [tunnel] allow_model_management = true to allow it');
  expect(checkPath("OPTIONS", "/api/chat", cfg)?.status).toBe(405);
  // A method name Bun's Request would keep (PROPFIND) or quietly turn into GET (FOO): checked as the relay sent it.
  for (const m of ["FOO", "PROPFIND", "GETX"]) expect({ m, status: checkPath(m, "/api/chat", cfg)?.status }).toEqual({ m, status: 405 });
  // Every method that is not a request for a local service's answer: CONNECT (a tunnel inside the tunnel), TRACE (echoes the request).
  for (const m of ["CONNECT", "TRACE"]) expect({ m, status: checkPath(m, "/api/chat", cfg)?.status }).toEqual({ m, status: 405 });
  // allowed_paths names whole paths: neither a path below one nor one that starts with one's text.
  for (const p of ["/api/chat/x", "/api/chatty", "/v1/models/x/../y"]) expect({ p, status: checkPath("POST", p, cfg)?.status }).toEqual({ p, status: 403 });
});

test("every spelling of an allowed route is that route, as the broker reads it (routeOf): the tunnel passes what the broker on its own port serves", () => {
  for (const p of ["/api/chat/", "//api/chat", "/api/./chat", "/api/%63hat", "/api%2fchat", "/API/Chat", "/api/tags/", "/v1/chat/completions/", "/v1//chat/completions?x=1"]) expect({ p, refused: checkPath("POST", p, cfg) }).toEqual({ p, refused: null });
  // An entry of allowed_paths in another spelling than routeOf's still matches itself.
  expect(checkPath("GET", "/Health", { ...cfg, allowed_paths: ["/Health"] })).toBeNull();
});

test("a ';' parameter is no route to any upstream: 404 naming the route to use, as the upstream's own 404 on the broker's port", () => {
  for (const [p, route] of [["/api/chat;x", "/api/chat"], ["/v1/chat/completions;a=b/", "/v1/chat/completions"]] as const) {
    const e = checkPath("POST", p, cfg);
    expect({ p, status: e?.status, message: e?.message }).toEqual({ p, status: 404, message: `${JSON.stringify(p)} is no route: every upstream reads ";…" as part of the path; use ${route}` });
  }
  // A parameter on a path that is not allowed anyway is the plain refusal.
  expect(checkPath("POST", "/metrics;x", cfg)?.status).toBe(403);
});

test("a fragment anywhere in the target, after the path or after the query, is a 400: upstreams read it each their own way", () => {
  for (const p of ["/api/chat#x", "/api/chat?x#y", "/v1/models?#/../api/pull", "/api/tags?a=1#"]) expect({ p, status: checkPath("POST", p, cfg)?.status, message: checkPath("POST", p, cfg)?.message }).toEqual({ p, status: 400, message: expect.stringContaining("fragment") });
});

test("credentials, cookies, origin and referer from the relay are stripped and Host is rewritten", () => {
  const req = new Request("http://tunnel.invalid/api/chat?a=1", {
    method: "POST",
    headers: { authorization: "Bearer relay", cookie: "s=1", origin: "https://evil", referer: "https://evil/page?session=1", host: "evil", "content-type": "application/json", "x-forwarded-for": "1.2.3.4" },
    body: "{}",
  });
  const out = sanitize(req, "127.0.0.1:11435");
  expect(out.url).toBe("http://127.0.0.1:11435/api/chat?a=1");
  expect(out.headers.get("authorization")).toBeNull();
  expect(out.headers.get("cookie")).toBeNull();
  expect(out.headers.get("origin")).toBeNull();
  // A web app's fetch sends its origin (or its page's URL) as Referer too: local services never see either.
  expect(out.headers.get("referer")).toBeNull();
  expect(out.headers.get("x-forwarded-for")).toBeNull();
  expect(out.headers.get("host")).toBe("127.0.0.1:11435");
  expect(out.headers.get("content-type")).toBe("application/json");
});

test("sanitizedHeaders, what a relay's head becomes for the broker: any spelling of a stripped name goes, Host is replaced", () => {
  const out = sanitizedHeaders(
    [
      ["Authorization", "Bearer relay"],
      ["COOKIE", "s=1"],
      ["host", "evil"],
      ["X-Real-IP", "1.2.3.4"],
      ["Referer", "https://app.example/"],
      ["X-Forwarded-Proto", "https"],
      ["x-forwarded-prefix", "/evil"],
      ["content-type", "application/json"],
    ],
    "127.0.0.1:11435",
  );
  expect(out).toEqual([
    ["content-type", "application/json"],
    ["host", "127.0.0.1:11435"],
  ]);
});

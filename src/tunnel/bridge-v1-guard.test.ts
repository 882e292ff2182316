// BridgeGuard: what a hostile bridge's request is refused for before it becomes a Request (ids, methods, paths, concurrency).
import { expect, test } from "bun:test";
import { BridgeGuard } from "./bridge-v1-guard.ts";
import { HttpError } from "../core/http-error.ts";

const status = (r: ReturnType<BridgeGuard["admit"]>) => (r instanceof HttpError ? r.status : "ignore" in r ? "ignored" : r.path);

test("ids: none or empty is ignored, a reused one is ignored while the first is in flight and free again after", () => {
  const g = new BridgeGuard(8);
  expect(status(g.admit(undefined, "GET", "/api/tags"))).toBe("ignored");
  expect(status(g.admit("", "GET", "/api/tags"))).toBe("ignored");
  expect(status(g.admit(7, "GET", "/api/tags"))).toBe("ignored");
  expect(status(g.admit("a", "GET", "/api/tags"))).toBe("/api/tags");
  expect(status(g.admit("a", "GET", "/api/tags"))).toBe("ignored");
  g.done("a");
  expect(status(g.admit("a", "GET", "api/tags"))).toBe("/api/tags");
});

test("paths that URL parsing would rewrite, and methods Bun would turn into GET, are refused", () => {
  const g = new BridgeGuard(64);
  let n = 0;
  for (const p of ["/x/../api/tags", "/api/chat/%2e%2e/pull", "\\api\\tags", "//evil.example/api/tags", "/api/tags#f", "/api/ta gs", "/api/./tags"]) expect(status(g.admit(`p${n++}`, "GET", p))).toBe(403);
  for (const m of ["G ET", "FOO", "", "GET /api/pull HTTP/1.1"]) expect(status(g.admit(`m${n++}`, m, "/api/tags"))).toBe(405);
  expect(status(g.admit(`q${n++}`, "POST", "/v1/chat/completions?x=1"))).toBe("/v1/chat/completions?x=1");
});

test("more than max_streams at once is answered 503", () => {
  const g = new BridgeGuard(2);
  expect(status(g.admit("1", "GET", "/api/tags"))).toBe("/api/tags");
  expect(status(g.admit("2", "GET", "/api/tags"))).toBe("/api/tags");
  expect(status(g.admit("3", "GET", "/api/tags"))).toBe(503);
  g.done("1");
  expect(status(g.admit("3", "GET", "/api/tags"))).toBe("/api/tags");
});

// An upstream URL's query merged onto every request target: the caller's parameters kept, the operator's winning.
import { expect, test } from "bun:test";
import { splitUpstreamUrl, upstreamRequestUrl, withUpstreamQuery } from "./upstream-url.ts";

test("the base loses its query and trailing slashes; the query is kept as written", () => {
  expect(splitUpstreamUrl("http://h:8080/")).toMatchObject({ base: "http://h:8080", query: "" });
  expect(splitUpstreamUrl("http://h:8080/?api-version=2024-10-21")).toMatchObject({ base: "http://h:8080", query: "api-version=2024-10-21" });
  expect(splitUpstreamUrl("https://h/openai/deployments/x/?api-version=1&a=%20b")).toMatchObject({ base: "https://h/openai/deployments/x", query: "api-version=1&a=%20b" });
});

test("merged onto a target: appended without a query, after the caller's otherwise, the caller's same-named parameter dropped", () => {
  const u = splitUpstreamUrl("http://h/?api-version=1&tenant=t");
  expect(withUpstreamQuery("/api/chat", u)).toBe("/api/chat?api-version=1&tenant=t");
  expect(withUpstreamQuery("/v1/models?limit=5&api-version=9&api%2Dversion=8", u)).toBe("/v1/models?limit=5&api-version=1&tenant=t");
  expect(withUpstreamQuery("/v1/models?", u)).toBe("/v1/models?api-version=1&tenant=t");
  // No query configured: the very target (nothing done per request).
  const plain = splitUpstreamUrl("http://h");
  const t = "/api/chat?x=1";
  expect(withUpstreamQuery(t, plain)).toBe(t);
  expect(upstreamRequestUrl("http://h:1/p/?v=2", "/api/version")).toBe("http://h:1/p/api/version?v=2");
});

test("a fragment is dropped: the routes are appended to the path, not to it", () => {
  expect(upstreamRequestUrl("http://tok@h:1/#secret", "/api/chat")).toBe("http://tok@h:1/api/chat");
  expect(upstreamRequestUrl("http://h:1/p?v=2#x", "/api/chat")).toBe("http://h:1/p/api/chat?v=2");
});

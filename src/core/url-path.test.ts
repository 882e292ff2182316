// Unit tests for slicing the path and query out of an absolute request URL.
import { expect, test } from "bun:test";
import { urlPath, urlSearch } from "./url-path.ts";

test("path and query of absolute URLs, with and without either part", () => {
  expect([urlPath("http://127.0.0.1:11435/api/chat"), urlSearch("http://127.0.0.1:11435/api/chat")]).toEqual(["/api/chat", ""]);
  expect([urlPath("http://h/v1/models?x=1&y=/z"), urlSearch("http://h/v1/models?x=1&y=/z")]).toEqual(["/v1/models", "?x=1&y=/z"]);
  expect([urlPath("http://[::1]:8765/"), urlSearch("http://[::1]:8765/")]).toEqual(["/", ""]);
  expect([urlPath("http://h"), urlSearch("http://h")]).toEqual(["/", ""]);
  expect(urlPath("http://h/a?b")).toBe(new URL("http://h/a?b").pathname);
});

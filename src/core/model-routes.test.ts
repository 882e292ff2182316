// Unit tests for the route tables: the route an upstream serves for a path, whatever its spelling, and management routes.
import { expect, test } from "bun:test";
import { isModelManagement, modelFields, routeOf, withoutTrailingSlash } from "./model-routes.ts";

test("an escaped, doubled, trailing-slash or upper-case spelling of a path is its route", () => {
  expect(routeOf("/api/chat")).toBe("/api/chat");
  expect(routeOf("/api/%63opy")).toBe("/api/copy");
  expect(routeOf("/api%2Fcopy")).toBe("/api/copy");
  expect(routeOf("//api//copy/")).toBe("/api/copy");
  expect(routeOf("/API/Pull")).toBe("/api/pull");
  expect(routeOf("/v1/models/llama3.2%3A1b")).toBe("/v1/models/llama3.2:1b");
  expect(routeOf("/")).toBe("/");
  // Dot segments that only decoding reveals (Bun resolved the plain ones): Go's ServeMux cleans them before Ollama routes.
  expect(routeOf("/api/chat/..%2fpull")).toBe("/api/pull");
  expect(routeOf("/api/chat/%2E%2E%2Fcopy")).toBe("/api/copy");
  expect(routeOf("/api/x%2f.%2fdelete")).toBe("/api/x/delete");
  expect(routeOf("/%2e%2e/%2e%2e/api/push")).toBe("/api/push");
  expect(routeOf("/api/tags%2f..")).toBe("/api");
  expect(routeOf("/api/ollama..%2fx")).toBe("/api/ollama../x");
  // Decoded once, as Go decodes: %2563 is "%63", not "c".
  expect(routeOf("/api/%2563opy")).toBe("/api/%63opy");
  for (const p of ["/api/%63opy", "/API/DELETE", "/api/blobs/sha256:00", "/api/push/"]) expect(isModelManagement(routeOf(p))).toBe(true);
  // cpp-httplib (llama.cpp) also decodes "%u" and four hex digits: "/models/%u006coad" is its /models/load. Once, too.
  expect(routeOf("/models/%u006coad")).toBe("/models/load");
  expect(routeOf("/%u006Dodels%u002Fload")).toBe("/models/load");
  expect(routeOf("/models/%25u006coad")).toBe("/models/%u006coad");
  expect(routeOf("/models/%u06coad")).toBe("/models/%u06coad");
  for (const p of ["/models/%u006coad", "/models/%U006coad", "/api/%u0070ull"]) expect(isModelManagement(routeOf(p))).toBe(p !== "/models/%U006coad");
  expect(isModelManagement(routeOf("/api/chat"))).toBe(false);
  // The other kinds' own management routes: llama.cpp's router, LM Studio's v1 REST API, vLLM's runtime LoRA updates.
  for (const p of ["/models/load", "/models/unload", "/api/v1/models/download", "/API/v1/Models/%6Coad", "/api/v1/models/unload/", "/v1/load_lora_adapter", "/api/signout", "/api/me", "/api/user/keys/abc", "/api/experimental/web_search", "/api/experimental/web_fetch", "/debug/pprof/heap", "/DEBUG/pprof/", "/sleep", "/wake_up", "/collective_rpc", "/reset_prefix_cache"]) expect(isModelManagement(routeOf(p))).toBe(true);
  for (const p of ["/models", "/v1/models", "/api/v1/models", "/api/v1/chat", "/v1/chat/completions", "/models/loaded", "/sleeping", "/health", "/is_sleeping"]) expect(isModelManagement(routeOf(p))).toBe(false);
  // llama.cpp's router lists on GET /models, downloads on POST and deletes on DELETE /models?model=…: management when the method is known.
  for (const m of ["POST", "DELETE", "PUT", "PATCH"]) expect(isModelManagement(routeOf("/Models/"), m)).toBe(true);
  for (const m of ["GET", "HEAD"]) expect(isModelManagement("/models", m)).toBe(false);
  expect(isModelManagement("/v1/models", "POST")).toBe(false);
  expect(modelFields("/api/v1/models/unload").acts).toEqual(["instance_id"]);
  expect(modelFields(routeOf("/api/%63opy/")).acts).toEqual(["source"]);
});

test("withoutTrailingSlash drops every trailing slash and keeps the root", () => {
  expect(withoutTrailingSlash("/api/blobs/sha256:Ab/")).toBe("/api/blobs/sha256:Ab");
  expect(withoutTrailingSlash("/v1/models/x//")).toBe("/v1/models/x");
  expect(withoutTrailingSlash("/api/tags")).toBe("/api/tags");
  expect(withoutTrailingSlash("/")).toBe("/");
  expect(withoutTrailingSlash("//")).toBe("/");
});

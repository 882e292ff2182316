// 403 csrf_failed is listed exactly where the dashboard cookie can make a change: not on reads, not on token-only or public routes.
import { expect, test } from "bun:test";
import { withCsrfResponses } from "./csrf-responses.ts";

test("adds 403 csrf_failed to cookie-accepting changes only, keeping an existing 403's meaning", () => {
  const session = [{ bearer: [] }, { session: [] }];
  const doc = withCsrfResponses({
    security: session,
    paths: {
      "/a": { get: { responses: { 200: {} } }, post: { responses: { 200: {} } } },
      "/b": { delete: { security: [{ bearer: [] }], responses: { 204: {} } } },
      "/c": { post: { security: [], responses: { 200: {} } } },
      "/d": { put: { security: session, responses: { 403: { description: "Not yours" } } } },
    },
  }) as any;
  expect(doc.paths["/a"].post.responses["403"].content["application/json"].example.error.code).toBe("csrf_failed");
  expect(doc.paths["/a"].post.responses["403"].description).toContain("x-csrf-token");
  expect(doc.paths["/a"].get.responses["403"]).toBeUndefined();
  expect(doc.paths["/b"].delete.responses["403"]).toBeUndefined();
  expect(doc.paths["/c"].post.responses["403"]).toBeUndefined();
  expect(doc.paths["/d"].put.responses["403"].description).toStartWith("Not yours Or `csrf_failed`");
  // Twice is the same as once (the plugin hands out the same objects each time).
  expect(withCsrfResponses(structuredClone(doc))).toEqual(doc);
});

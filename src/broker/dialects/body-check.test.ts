// Unit tests for what the dialect routes require of a body: uncompressed, not empty, a JSON object; other routes untouched.
import { expect, test } from "bun:test";
import { dialectBodyProblem } from "./body-check.ts";

const enc = new TextEncoder();
const h = (o: Record<string, string> = {}) => new Headers(o);

test("a JSON object passes, white space first too; a body too large to hold is judged by its head", () => {
  expect(dialectBodyProblem("POST", "/v1/messages", h(), enc.encode(' \n{"model":"m"}'), 15)).toBeNull();
  expect(dialectBodyProblem("POST", "/v1/responses", h({ "content-encoding": "identity" }), enc.encode("{"), -1)).toBeNull();
});

test("a UTF-8 BOM before the object is skipped, as json-top-level.ts and the translation's decoder skip it; a BOM alone is not an object", () => {
  const bom = [0xef, 0xbb, 0xbf];
  const withBom = (s: string) => new Uint8Array([...bom, ...enc.encode(s)]);
  for (const route of ["/v1/messages", "/v1/messages/count_tokens", "/v1/responses"]) expect(dialectBodyProblem("POST", route, h(), withBom(' {"model":"m"}'), 16)).toBeNull();
  expect(dialectBodyProblem("POST", "/v1/messages", h(), withBom(""), 3)).toMatchObject({ status: 400 });
  expect(dialectBodyProblem("POST", "/v1/messages", h(), withBom("[1]"), 6)).toMatchObject({ status: 400 });
});

test("compressed, empty, or not an object: 415, 400, 400 naming the route", () => {
  expect(dialectBodyProblem("POST", "/v1/messages", h({ "content-encoding": "gzip" }), enc.encode("{}"), 2)).toMatchObject({ status: 415, code: "unsupported_media_type" });
  expect(dialectBodyProblem("POST", "/v1/messages/count_tokens", h(), null, 0)?.message).toBe("the request body is empty; /v1/messages/count_tokens takes a JSON object");
  expect(dialectBodyProblem("POST", "/v1/responses", h(), enc.encode("  "), 2)).toMatchObject({ status: 400 });
  expect(dialectBodyProblem("POST", "/v1/responses", h(), enc.encode('"hi"'), 4)?.message).toContain("not a JSON object");
});

test("other routes and methods are not this file's business", () => {
  expect(dialectBodyProblem("POST", "/v1/chat/completions", h({ "content-encoding": "gzip" }), null, 0)).toBeNull();
  expect(dialectBodyProblem("GET", "/v1/messages", h(), null, 0)).toBeNull();
});

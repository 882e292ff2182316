// The broker's OpenAPI document: structurally valid OpenAPI 3.0, every broker route with its request and answer, the key
// auth, and each route's errors in its caller's dialect.
import { describe, expect, test } from "bun:test";
import { openApiProblems } from "../../../../tests/helpers/openapi-check.ts";
import { BROKER_ROUTES, brokerServers, brokerSpec } from "./broker-spec.ts";

const doc = brokerSpec({ version: "9.9.9", listen: "127.0.0.1:11435" }) as any;
const ROUTES = ["/api/chat", "/api/generate", "/api/embed", "/api/tags", "/api/ps", "/api/show", "/api/version", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens"];

describe("broker OpenAPI document", () => {
  test("holds the OpenAPI 3.0 invariants (refs resolve, responses described, ids unique, schemes defined)", () => {
    expect(openApiProblems(doc)).toEqual([]);
    expect(doc.info.version).toBe("9.9.9");
    expect(doc.servers).toEqual([{ url: "http://127.0.0.1:11435", description: expect.any(String) }]);
  });

  test("the checker is not blind: it finds a broken ref, a missing description and an unknown scheme", () => {
    const broken = structuredClone(doc);
    broken.paths["/api/chat"].post.requestBody.content["application/json"].schema.$ref = "#/components/schemas/Nope";
    delete broken.paths["/api/tags"].get.responses["200"].description;
    broken.security.push({ nope: [] });
    expect(openApiProblems(broken)).toEqual([
      "document.security names an undefined scheme \"nope\"",
      "POST /api/chat requestBody.application/json: $ref #/components/schemas/Nope does not resolve",
      "GET /api/tags 200: a response needs a description",
    ]);
  });

  test("lists each broker route with its method, body and answer", () => {
    expect(Object.keys(doc.paths).sort()).toEqual([...ROUTES].sort());
    expect(BROKER_ROUTES.map((r) => r.path)).toEqual(ROUTES);
    for (const p of ["/api/chat", "/api/generate", "/api/embed", "/api/show", "/v1/chat/completions", "/v1/completions", "/v1/embeddings"]) expect(doc.paths[p].post.requestBody.required).toBe(true);
    for (const p of ["/api/tags", "/api/ps", "/api/version", "/v1/models"]) expect(doc.paths[p].get.responses["200"].content["application/json"]).toBeTruthy();
    expect(doc.components.schemas.ChatRequest.required).toEqual(["model", "messages"]);
    expect(doc.components.schemas.ChatCompletion.properties.object.enum).toEqual(["chat.completion"]);
    expect(doc.paths["/api/chat"].post.responses["200"].content["application/x-ndjson"]).toBeTruthy();
    expect(doc.paths["/v1/chat/completions"].post.responses["200"].content["text/event-stream"]).toBeTruthy();
    expect(doc.paths["/v1/messages"].post.responses["200"].content["text/event-stream"]).toBeTruthy();
    expect(doc.paths["/v1/messages"].post.tags).toEqual(["anthropic"]);
  });

  test("keys are optional (local callers) and go as a bearer token or x-api-key", () => {
    expect(doc.security).toEqual([{}, { bearer: [] }, { apiKey: [] }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "apiKey", in: "header", name: "x-api-key" });
  });

  test("errors are in each path's dialect, with the stable code header", () => {
    for (const [path, op] of Object.entries<any>(doc.paths)) {
      const o = op.post ?? op.get;
      const body = path.startsWith("/v1/messages") ? "#/components/schemas/AnthropicError" : path.startsWith("/v1/") ? "#/components/schemas/OpenAIError" : "#/components/schemas/OllamaError";
      for (const status of ["400", "401", "403", "429", "502", "503"]) {
        expect({ path, status, ref: o.responses[status]?.content["application/json"].schema.$ref }).toEqual({ path, status, ref: body });
        expect(o.responses[status].headers["x-c2l-error-code"]).toBeTruthy();
      }
    }
    expect(doc.paths["/v1/models"].get.responses["401"].description).toContain("`unauthorized`");
    expect(doc.components.schemas.OpenAIError.properties.error.required).toEqual(["message", "type", "code"]);
  });

  test("a wildcard listen address is shown as loopback", () => {
    expect(brokerServers("0.0.0.0:11435")[0]!.url).toBe("http://127.0.0.1:11435");
    expect(brokerServers("[::1]:11435")[0]!.url).toBe("http://[::1]:11435");
  });
});

import { expect, test } from "bun:test";
import { asOpenApi30 } from "./openapi-30.ts";

const doc = () => ({
  openapi: "3.0.3",
  paths: {
    "/x/{id}": {
      get: {
        parameters: [{ name: "id", in: "path", examples: ["a"], schema: { type: "string" } }],
        responses: {
          "200": {
            examples: [{ v: null }],
            items: { type: "string" },
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: { v: { anyOf: [{ type: "string" }, { type: "null" }] }, k: { const: "ok", type: "string" }, m: { type: "object", patternProperties: { "^(.*)$": { type: "number" } } } },
                },
              },
            },
          },
        },
      },
    },
  },
});

test("JSON Schema's spellings become OpenAPI 3.0's: nullable, enum, example, additionalProperties; responses get a description", () => {
  const out = asOpenApi30(doc()) as any;
  const op = out.paths["/x/{id}"].get;
  const props = op.responses["200"].content["application/json"].schema.properties;
  expect(props.v).toEqual({ type: "string", nullable: true });
  expect(props.k).toEqual({ type: "string", enum: ["ok"] });
  expect(props.m).toEqual({ type: "object", additionalProperties: { type: "number" } });
  expect(op.responses["200"]).toEqual({ description: "OK", content: { "application/json": { schema: expect.any(Object), example: { v: null } } } });
  expect(op.parameters[0]).toEqual({ name: "id", in: "path", example: "a", schema: { type: "string" } });
});

test("the document it is given is left as it was: those are the routes' own schemas, which validate requests and answers", () => {
  const original = doc();
  const before = JSON.stringify(original);
  asOpenApi30(original);
  expect(JSON.stringify(original)).toBe(before);
});

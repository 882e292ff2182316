// Puts the control API's document in the dialect it declares (OpenAPI 3.0.3): TypeBox writes JSON Schema (a null branch
// in anyOf, const, examples, patternProperties) that 3.0 tools and client generators refuse, and Elysia leaves responses
// without the description 3.0 requires.
import { STATUS_CODES } from "node:http";

type Json = Record<string, any>;

const RESPONSE_FIELDS = new Set(["description", "headers", "content", "links"]);

/** Schema keywords 3.0 does not have, each with its 3.0 spelling (in place). */
function schema30(s: Json): void {
  if (!s || typeof s !== "object") return;
  // Elysia reads a number in a query or body from its text form too: a union of a string of format integer/number and
  // the number. Shown as the number a client sends (Swagger UI's example was the text "string", which is refused).
  if (Array.isArray(s.anyOf) && s.anyOf.length === 2) {
    const [text, num] = s.anyOf as Json[];
    if (text?.type === "string" && (text.format === "integer" || text.format === "number") && (num?.type === "integer" || num?.type === "number")) {
      delete s.anyOf;
      Object.assign(s, { ...num, ...(text.default !== undefined && s.default === undefined ? { default: text.default } : {}) });
    }
  }
  if (Array.isArray(s.anyOf)) {
    const rest = s.anyOf.filter((b: Json) => b?.type !== "null");
    if (rest.length < s.anyOf.length) {
      // `T | null` is T with nullable; a union of several stays a union that may also be null.
      if (rest.length === 1 && !rest[0].$ref) {
        delete s.anyOf;
        Object.assign(s, rest[0]);
      } else s.anyOf = rest;
      s.nullable = true;
    }
  }
  if ("const" in s) {
    s.enum = [s.const];
    delete s.const;
  }
  if (Array.isArray(s.examples)) {
    if (s.examples.length && !("example" in s)) s.example = s.examples[0];
    delete s.examples;
  }
  if (s.patternProperties && typeof s.patternProperties === "object") {
    // TypeBox's Record(String, T) is the only source: any property name, each a T.
    const [only] = Object.values<Json>(s.patternProperties);
    if (only && s.additionalProperties === undefined) s.additionalProperties = only;
    delete s.patternProperties;
  }
  for (const p of Object.values<Json>(s.properties ?? {})) schema30(p);
  if (s.items) schema30(s.items);
  if (s.additionalProperties && typeof s.additionalProperties === "object") schema30(s.additionalProperties);
  for (const k of ["anyOf", "oneOf", "allOf"]) for (const b of s[k] ?? []) schema30(b);
  if (s.not) schema30(s.not);
}

function content30(c: Json | undefined): void {
  for (const m of Object.values<Json>(c ?? {})) if (m?.schema) schema30(m.schema);
}

/**
 * A copy of the document in OpenAPI 3.0's terms. Never in place: the plugin's document holds the routes' own schema
 * objects, which validate requests and answers (a `T | null` made `nullable` there would refuse null answers).
 */
export function asOpenApi30<T extends object>(doc: T): T {
  const d = JSON.parse(JSON.stringify(doc)) as Json;
  for (const s of Object.values<Json>(d.components?.schemas ?? {})) schema30(s);
  for (const item of Object.values<Json>(d.paths ?? {})) {
    for (const op of Object.values<Json>(item)) {
      if (!op || typeof op !== "object") continue;
      for (const p of op.parameters ?? []) {
        // A Parameter Object's `examples` is a map of Example Objects; Elysia copies the schema's list there.
        if (Array.isArray(p?.examples)) {
          if (p.examples.length && !("example" in p)) p.example = p.examples[0];
          delete p.examples;
        }
        if (p?.schema) schema30(p.schema);
      }
      content30(op.requestBody?.content);
      for (const [code, r] of Object.entries<Json>(op.responses ?? {})) {
        // A Response Object has only these fields; Elysia copies the schema's own (`examples`, an array's `items`) there too.
        // Its example goes where 3.0 reads one, on each media type (Swagger UI shows it).
        if (Array.isArray(r.examples) && r.examples.length) for (const m of Object.values<Json>(r.content ?? {})) if (m && !("example" in m)) m.example = r.examples[0];
        for (const k of Object.keys(r)) if (!RESPONSE_FIELDS.has(k)) delete r[k];
        if (typeof r.description !== "string") r.description = STATUS_CODES[code] ?? code;
        content30(r.content);
      }
    }
  }
  return d as T;
}

// Checks a JSON value against an OpenAPI 3.0 Schema Object (no validator is a dependency): the keywords the project's
// documents use. Returns every mismatch, each naming where it is; an empty list means the value holds.
type Json = Record<string, any>;

const typeOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);

export function schemaProblems(value: unknown, schema: Json, doc: Json, where = "$"): string[] {
  if (!schema || typeof schema !== "object") return [];
  if (schema.$ref) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name ? doc.components?.schemas?.[name] : undefined;
    return target ? schemaProblems(value, target, doc, where) : [`${where}: $ref ${schema.$ref} does not resolve`];
  }
  if (value === null) return schema.nullable === true || (!schema.type && !schema.anyOf && !schema.oneOf && !schema.allOf && !schema.enum) ? [] : [`${where}: null, but the schema is not nullable`];
  const bad: string[] = [];
  const t = typeOf(value);
  if (schema.type && !(schema.type === t || (schema.type === "number" && t === "integer"))) return [`${where}: ${t} ${JSON.stringify(value)?.slice(0, 60)}, expected ${schema.type}`];
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))) bad.push(`${where}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) bad.push(`${where}: ${value} < minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) bad.push(`${where}: ${value} > maximum ${schema.maximum}`);
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) bad.push(`${where}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) bad.push(`${where}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) bad.push(`${where}: "${value.slice(0, 60)}" does not match ${schema.pattern}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => bad.push(...schemaProblems(v, schema.items, doc, `${where}[${i}]`)));
  if (t === "object") {
    const o = value as Json;
    for (const r of schema.required ?? []) if (!(r in o)) bad.push(`${where}: "${r}" is required`);
    for (const [k, v] of Object.entries(o)) {
      const p = schema.properties?.[k];
      if (p) bad.push(...schemaProblems(v, p, doc, `${where}.${k}`));
      else if (schema.additionalProperties === false) bad.push(`${where}: "${k}" is not a property`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === "object") bad.push(...schemaProblems(v, schema.additionalProperties, doc, `${where}.${k}`));
    }
  }
  for (const s of schema.allOf ?? []) bad.push(...schemaProblems(value, s, doc, where));
  for (const k of ["anyOf", "oneOf"] as const) {
    const branches: Json[] = schema[k] ?? [];
    if (!branches.length) continue;
    const fits = branches.filter((s) => schemaProblems(value, s, doc, where).length === 0).length;
    if (k === "anyOf" ? fits === 0 : fits !== 1) bad.push(`${where}: fits ${fits} of the ${branches.length} branches of ${k}`);
  }
  return bad;
}

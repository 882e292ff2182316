// Structural checks of an OpenAPI 3.0 document (no validator is a dependency): the invariants a tool such as Swagger UI or a
// client generator relies on. Returns every problem found, each naming where it is; an empty list means the document holds.
type Json = Record<string, any>;

const METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const TYPES = new Set(["string", "number", "integer", "boolean", "array", "object"]);

export function openApiProblems(doc: Json): string[] {
  const bad: string[] = [];
  if (typeof doc.openapi !== "string" || !/^3\.0\.\d+$/.test(doc.openapi)) bad.push(`openapi: "${doc.openapi}" is not 3.0.x`);
  if (typeof doc.info?.title !== "string" || typeof doc.info?.version !== "string") bad.push("info: title and version must be strings");
  for (const [i, s] of (doc.servers ?? []).entries()) {
    if (!URL.canParse(s.url)) bad.push(`servers[${i}].url "${s.url}" is not a URL`);
  }
  const schemes = doc.components?.securitySchemes ?? {};
  for (const [name, sc] of Object.entries<Json>(schemes)) {
    if (sc.type === "http" && typeof sc.scheme !== "string") bad.push(`securitySchemes.${name}: http needs a scheme`);
    else if (sc.type === "apiKey" && (!["header", "query", "cookie"].includes(sc.in) || typeof sc.name !== "string")) bad.push(`securitySchemes.${name}: apiKey needs in and name`);
    else if (!["http", "apiKey", "oauth2", "openIdConnect"].includes(sc.type)) bad.push(`securitySchemes.${name}: type ${sc.type}`);
  }
  const checkSecurity = (where: string, sec: unknown) => {
    if (sec === undefined) return;
    if (!Array.isArray(sec)) return void bad.push(`${where}.security is not a list`);
    for (const req of sec) for (const k of Object.keys(req)) if (!(k in schemes)) bad.push(`${where}.security names an undefined scheme "${k}"`);
  };
  checkSecurity("document", doc.security);
  const schema = (where: string, s: Json): void => {
    if (!s || typeof s !== "object") return void bad.push(`${where}: not a schema object`);
    if (s.$ref !== undefined) {
      const m = /^#\/components\/schemas\/(.+)$/.exec(s.$ref);
      if (!m || !doc.components?.schemas?.[m[1]!]) bad.push(`${where}: $ref ${s.$ref} does not resolve`);
      return;
    }
    if (s.type !== undefined && !TYPES.has(s.type)) bad.push(`${where}: type "${s.type}"`);
    if (s.type === "array" && !s.items) bad.push(`${where}: an array needs items`);
    if (s.required !== undefined) {
      if (!Array.isArray(s.required) || s.required.length === 0) bad.push(`${where}: required must be a non-empty list`);
      else for (const r of s.required) if (!s.properties || !(r in s.properties)) bad.push(`${where}: required "${r}" is not a property`);
    }
    if (s.enum !== undefined && !Array.isArray(s.enum)) bad.push(`${where}: enum must be a list`);
    // JSON Schema keywords 3.0's Schema Object does not have (3.1 and TypeBox do): a 3.0 client generator refuses them.
    for (const k of ["const", "examples", "patternProperties", "$defs", "prefixItems"]) if (s[k] !== undefined) bad.push(`${where}: "${k}" is not OpenAPI 3.0`);
    if (s.nullable !== undefined && typeof s.nullable !== "boolean") bad.push(`${where}: nullable must be a boolean`);
    for (const [k, p] of Object.entries<Json>(s.properties ?? {})) schema(`${where}.${k}`, p);
    if (s.items) schema(`${where}[]`, s.items);
    if (s.additionalProperties && typeof s.additionalProperties === "object") schema(`${where}{}`, s.additionalProperties);
    for (const k of ["oneOf", "anyOf", "allOf"]) for (const [i, x] of (s[k] ?? []).entries()) schema(`${where}.${k}[${i}]`, x);
  };
  for (const [name, s] of Object.entries<Json>(doc.components?.schemas ?? {})) schema(`components.schemas.${name}`, s);
  const content = (where: string, c: Json) => {
    if (!c || typeof c !== "object" || Object.keys(c).length === 0) return void bad.push(`${where}: content must name a media type`);
    for (const [type, m] of Object.entries<Json>(c)) if (m.schema) schema(`${where}.${type}`, m.schema);
  };
  const ids = new Set<string>();
  if (!doc.paths || typeof doc.paths !== "object") bad.push("paths: missing");
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    if (!path.startsWith("/")) bad.push(`path "${path}" does not start with /`);
    for (const [method, op] of Object.entries<Json>(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!METHODS.has(method)) {
        if (method !== "parameters" && method !== "summary" && method !== "description") bad.push(`${where}: not an HTTP method`);
        continue;
      }
      if (op.operationId !== undefined) {
        if (ids.has(op.operationId)) bad.push(`${where}: operationId ${op.operationId} is not unique`);
        ids.add(op.operationId);
      }
      checkSecurity(where, op.security);
      if (op.requestBody) content(`${where} requestBody`, op.requestBody.content);
      const responses = Object.entries<Json>(op.responses ?? {});
      if (!responses.length) bad.push(`${where}: no responses`);
      // A WebSocket route's success is 101 Switching Protocols.
      if (!responses.some(([code]) => /^2/.test(code) || code === "101")) bad.push(`${where}: no 2xx (or 101) response`);
      for (const [code, r] of responses) {
        if (!/^([1-5](\d\d|XX)|default)$/.test(code)) bad.push(`${where}: response code "${code}"`);
        if (typeof r.description !== "string") bad.push(`${where} ${code}: a response needs a description`);
        for (const k of Object.keys(r)) if (!["description", "headers", "content", "links"].includes(k)) bad.push(`${where} ${code}: "${k}" is not a field of a response`);
        if (r.content) content(`${where} ${code}`, r.content);
      }
      for (const p of op.parameters ?? []) if (p.examples !== undefined && (Array.isArray(p.examples) || typeof p.examples !== "object")) bad.push(`${where} parameter ${p.name}: examples must be a map of Example Objects`);
      const params = new Set((op.parameters ?? []).filter((p: Json) => p.in === "path").map((p: Json) => p.name));
      for (const m of path.matchAll(/\{([^}]+)\}/g)) if (!params.has(m[1])) bad.push(`${where}: path parameter ${m[1]} is not declared`);
    }
  }
  return bad;
}

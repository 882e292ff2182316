// The control API as docs/api.md and its OpenAPI document describe it, against a real daemon: every documented operation ×
// no token / a wrong one / the right one, CORS for a listed origin on every method the document names, and the body limit.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { apiToken, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { openApiProblems } from "../helpers/openapi-check.ts";
import { schemaProblems } from "../helpers/openapi-validate.ts";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:net";
import { ERROR_TABLE } from "../../src/core/error-codes.ts";
import { ERROR_CODES } from "../../src/core/http-error.ts";
import { createApp } from "../../src/api/app.ts";
import { TOKEN, testEnv } from "./stubs.ts";

// A real daemon on a busy machine.
setDefaultTimeout(30_000);

const LISTED = "http://app.example:3000";
const UPGRADE = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

let d: DaemonProc;
let port: number;
let token: string;
let doc: any;
interface Op {
  method: string;
  path: string;
  op: any;
}
let ops: Op[] = [];

beforeAll(async () => {
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\nallowed_origins = ["${LISTED}"]\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`,
  });
  port = Number(new URL(d.urls.api!).port);
  token = await apiToken(d);
  doc = JSON.parse((await rawRequest(port, "GET", "/swagger/json")).body);
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) for (const [method, op] of Object.entries(item)) ops.push({ method: method.toUpperCase(), path, op });
}, 60_000);
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

test("a listed origin's preflight allows every method and header the document's operations need; its answers expose ETag and the error code", async () => {
  expect(ops.length).toBeGreaterThan(30);
  const refused: string[] = [];
  for (const { method, path, op } of ops) {
    if (method === "GET" && path !== "/api/v1/config") continue; // a GET without custom headers needs no preflight
    // Authorization always; a body's Content-Type; If-Match where the route reads it (a config write keeping a change made since its read).
    const headers = ["authorization", ...(op.requestBody ? ["content-type"] : []), ...(/config/.test(path) ? ["if-match"] : [])];
    const r = await rawRequest(port, "OPTIONS", path.replace(/\{(\w+)\}/g, "x"), {
      headers: { origin: LISTED, "access-control-request-method": method, "access-control-request-headers": headers.join(",") },
    });
    const methods = (r.headers["access-control-allow-methods"] ?? "").split(/\s*,\s*/);
    const allowed = (r.headers["access-control-allow-headers"] ?? "").toLowerCase().split(/\s*,\s*/);
    if (r.status !== 204 || r.headers["access-control-allow-origin"] !== LISTED || !methods.includes(method) || headers.some((h) => !allowed.includes(h)))
      refused.push(`${method} ${path}: ${r.status} methods=[${methods}] headers=[${allowed}]`);
  }
  expect(refused).toEqual([]);
  // The page can read the config's version to send back in If-Match, and an error's stable code.
  const read = await rawRequest(port, "GET", "/api/v1/config", { headers: { origin: LISTED, authorization: `Bearer ${token}` } });
  expect(read.status).toBe(200);
  expect(read.headers["etag"]).toBeTruthy();
  const exposed = (read.headers["access-control-expose-headers"] ?? "").toLowerCase().split(/\s*,\s*/);
  expect(exposed).toEqual(expect.arrayContaining(["etag", "x-c2l-error-code"]));
  const denied = await rawRequest(port, "GET", "/api/v1/config", { headers: { origin: LISTED } });
  expect(denied.status).toBe(401);
  expect((denied.headers["access-control-expose-headers"] ?? "").toLowerCase()).toContain("x-c2l-error-code");
  // An unlisted origin (a suffix, a prefix, null) still gets nothing.
  for (const origin of [`${LISTED}.evil.example`, "http://app.example", "null", `${LISTED}/`]) {
    const r = await rawRequest(port, "OPTIONS", "/api/v1/keys/x", { headers: { origin, "access-control-request-method": "DELETE" } });
    expect({ origin, status: r.status, acao: r.headers["access-control-allow-origin"] }).toEqual({ origin, status: 403, acao: undefined });
  }
});

test("a body over [api] body_limit is 413 payload_too_large with the JSON error, however large its Content-Length", async () => {
  for (const length of [2 * 1024 * 1024, 65 * 1024 * 1024, 2 ** 40]) {
    const r = await rawRequest(port, "POST", "/api/v1/config/validate", {
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": String(length) },
    });
    expect({ length, status: r.status, code: r.headers["x-c2l-error-code"], body: r.body ? JSON.parse(r.body).error.code : "" }).toEqual({
      length,
      status: 413,
      code: "payload_too_large",
      body: "payload_too_large",
    });
  }
});

test("a Content-Length past 2^53 - 1 is refused by Bun's parser before any route: 413 (400 past 2^63) without a body, the connection closed", async () => {
  // The API listens with Bun's largest body cap (Number.MAX_SAFE_INTEGER): a declared length up to it is the route's 413 above.
  for (const [length, status] of [["9007199254740992", 413], ["99999999999999999999", 400]] as const) {
    // A keep-alive request: the answer ends the connection all the same.
    const sock = connect(port, "127.0.0.1");
    let raw = "";
    sock.on("data", (c: Buffer) => (raw += c.toString("latin1")));
    const closed = new Promise<void>((resolve) => sock.on("close", () => resolve()));
    sock.write(`POST /api/v1/config/validate HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n{}`);
    await closed;
    const [head = "", body = ""] = raw.split("\r\n\r\n");
    expect({ length, status: Number(head.slice(9, 12)), code: /x-c2l-error-code/i.test(head), body }).toEqual({ length, status, code: false, body: "" });
  }
});

test("the document is the OpenAPI 3.0 it declares: no JSON-Schema-only keywords (a null branch, const, examples), every response described", () => {
  expect(doc.openapi).toMatch(/^3\.0\./);
  expect(openApiProblems(doc)).toEqual([]);
  // `T | null` reads as 3.0 says it: the tunnel's relay is a string or null.
  const tunnel = doc.paths["/api/v1/tunnel"].get.responses["200"].content["application/json"].schema;
  expect(tunnel.properties.relay).toMatchObject({ type: "string", nullable: true });
});

const readConfig = () => readFileSync(d.configFile, "utf8");
const fill = (path: string) => path.replace(/\{(\w+)\}/g, (_, p: string) => ({ name: "local", file: "app.js" })[p] ?? "x");
/** Routes that answer JSON (the API proper), whose every answer the document must list; the HTML pages say theirs in prose. */
const jsonRoute = (path: string) => /^\/(api\/v1\/|healthz|readyz|metrics|ws)/.test(path);

async function send(method: string, path: string, authorization?: string) {
  const headers: Record<string, string> = { ...(path === "/ws" ? UPGRADE : {}), ...(authorization !== undefined ? { authorization } : {}) };
  return rawRequest(port, method, fill(path), { headers });
}

/** An HTML page for a browser (the dashboard's), not the API's JSON answer. */
const isPage = (r: { headers: Record<string, string> }) => r.headers["content-type"]?.startsWith("text/html") === true;

test("every documented operation × credentials: no token or a wrong one is 401 unauthorized where a token is declared; the right one gets an answer the document lists", async () => {
  // Among them a token of the right length with one character changed: the comparison must be of every byte, not the length.
  const wrong = (t: string) => [undefined, "Bearer wrong", `Bearer ${t}x`, `Bearer ${t.slice(0, -1)}`, `Bearer ${t.slice(0, -1)}${t.endsWith("A") ? "B" : "A"}`, `Basic ${t}`, t, "Bearer", `Bearer ${t} ${t}`];
  const problems: string[] = [];
  let protectedOps = 0;
  for (const { method, path, op } of ops) {
    const declared = Object.keys(op.responses);
    const isPublic = (op.security ?? doc.security).length === 0;
    for (const authorization of wrong(token)) {
      const r = await send(method, path, authorization);
      const code = r.headers["x-c2l-error-code"];
      if (isPublic) {
        // A public route answers whatever credentials come along (the token is never required, a wrong one never refused).
        // The dashboard's pages say 401 unauthorized to a browser without a session, as an HTML page: no credentials refused.
        if (code === "unauthorized" && !isPage(r)) problems.push(`${method} ${path} is public but refused ${authorization} with 401`);
      } else if (r.status !== 401 || code !== "unauthorized" || JSON.parse(r.body || "{}").error?.code !== "unauthorized")
        problems.push(`${method} ${path} with ${authorization?.replace(token, "TOKEN")}: ${r.status} ${code} (expected 401 unauthorized)`);
      else if (!declared.includes("401")) problems.push(`${method} ${path}: answers 401, which the document does not list`);
    }
    if (!isPublic) protectedOps++;
    const ok = await send(method, path, `Bearer ${token}`);
    // The dashboard's HTML pages answer a browser without a session cookie with a 401 page (a token is no session).
    if ((ok.headers["x-c2l-error-code"] === "unauthorized" && !isPage(ok)) || (jsonRoute(path) && ok.status === 401)) problems.push(`${method} ${path}: the right token is refused (${ok.status})`);
    // Every operation the document lists is a route the daemon serves (app routes missing from the document: auth-sweep.test.ts).
    if (ok.status === 404 && /"no route /.test(ok.body)) problems.push(`${method} ${path}: documented, but no route answers it`);
    if (jsonRoute(path) && !declared.includes(String(ok.status))) problems.push(`${method} ${path}: answers ${ok.status} ${ok.headers["x-c2l-error-code"] ?? ""}, the document lists ${declared}`);
  }
  expect(problems).toEqual([]);
  expect(protectedOps).toBeGreaterThan(20);
});

test("every operation that takes a body lists what the body checks answer: broken JSON 400, too large 413, a type it does not read 415", async () => {
  const problems: string[] = [];
  const auth = { authorization: `Bearer ${token}` };
  const cases: [string, Record<string, string>, string][] = [
    ["400", { "content-type": "application/json" }, '{"broken":'],
    ["413", { "content-type": "application/json", "content-length": String(64 * 1024 * 1024) }, ""],
    ["415", { "content-type": "application/xml" }, "<config/>"],
  ];
  const withBody = ops.filter((o) => o.op.requestBody);
  expect(withBody.map((o) => `${o.method} ${o.path}`)).toEqual(expect.arrayContaining(["PUT /api/v1/config", "POST /api/v1/keys"]));
  for (const { method, path, op } of withBody)
    for (const [status, headers, body] of cases) {
      const r = await rawRequest(port, method, fill(path), { headers: { ...auth, ...headers }, body: body || undefined });
      if (String(r.status) !== status) problems.push(`${method} ${path}: ${r.status} for a ${status} case`);
      else if (!op.responses[status]) problems.push(`${method} ${path}: answers ${status} ${r.headers["x-c2l-error-code"]}, which the document does not list`);
    }
  expect(problems).toEqual([]);
});

test("the main routes' answers, successes and errors, validate against the schemas the document gives them", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, "content-type": "application/json" };
  const calls: [string, string, Record<string, string>?, string?][] = [
    ["POST", "/api/v1/keys", json, JSON.stringify({ name: "contract", rpm: 30 })],
    ["POST", "/api/v1/keys", json, JSON.stringify({ name: "contract" })], // 409: exists
    ["POST", "/api/v1/keys", json, JSON.stringify({ name: 5 })], // 422
    ["PUT", "/api/v1/config", { ...auth, "content-type": "application/toml" }, readConfig()],
    ["POST", "/api/v1/config/validate", { ...auth, "content-type": "application/toml" }, "[api]\nbody_limit = 1\n"],
    ["GET", "/healthz"],
    ["GET", "/readyz"],
    ["GET", "/api/v1/status"],
    ["GET", "/api/v1/upstreams"],
    ["GET", "/api/v1/upstreams/local"],
    ["GET", "/api/v1/upstreams/nope"],
    ["POST", "/api/v1/upstreams/local/check", auth],
    ["POST", "/api/v1/reconnect", auth],
    ["GET", "/api/v1/models"],
    ["GET", "/api/v1/metrics"],
    ["GET", "/api/v1/tunnel"],
    ["POST", "/api/v1/tunnel/start", auth], // 409 tunnel_disabled
    ["GET", "/api/v1/config", auth],
    ["GET", "/api/v1/config/backups", auth],
    ["GET", "/api/v1/version?client=3.0.0"],
    ["GET", "/api/v1/events?limit=5"],
    ["GET", "/api/v1/events?limit=x"],
    ["GET", "/api/v1/auth"],
    ["GET", "/api/v1/keys", auth],
    ["GET", "/api/v1/keys/contract", auth],
    ["GET", "/api/v1/usage", auth],
    ["GET", "/metrics"],
    ["GET", "/api/v1/config/export", auth],
    ["GET", "/api/v1/requests", auth],
    ["GET", "/api/v1/dashboard/history", auth],
    ["GET", "/api/v1/dashboard/session", auth],
    ["GET", "/api/v1/dashboard/requests", auth],
    ["DELETE", "/api/v1/keys/contract", auth],
  ];
  const problems: string[] = [];
  const statuses: string[] = [];
  for (const [method, target, headers, body] of calls) {
    const path = target.split("?")[0]!;
    const templated = Object.keys(doc.paths).find((p) => new RegExp(`^${p.replace(/\{\w+\}/g, "[^/]+")}$`).test(path)) ?? path;
    const r = await rawRequest(port, method, target, { headers, body });
    statuses.push(`${method} ${target} ${r.status}`);
    const declared = doc.paths[templated]?.[method.toLowerCase()]?.responses?.[String(r.status)];
    if (!declared) {
      problems.push(`${method} ${target}: ${r.status} is not in the document`);
      continue;
    }
    // The answer's media type is one the document lists for it (Elysia listed JSON, multipart and text for everything).
    const type = (r.headers["content-type"] ?? "").split(";")[0]!.trim();
    const listed = Object.keys(declared.content ?? {});
    if (r.status !== 204 && !listed.includes(type)) problems.push(`${method} ${target} ${r.status}: answers ${type}, the document lists ${listed}`);
    if (r.status !== 204 && listed.length !== 1) problems.push(`${method} ${target} ${r.status}: the document lists ${listed.length} media types for one answer`);
    const schema = declared.content?.["application/json"]?.schema;
    if (!schema || r.status === 204) continue;
    let value: unknown;
    try {
      value = JSON.parse(r.body);
    } catch {
      problems.push(`${method} ${target}: ${r.status} is not JSON: ${r.body.slice(0, 80)}`);
      continue;
    }
    for (const p of schemaProblems(value, schema, doc)) problems.push(`${method} ${target} ${r.status}: ${p}`);
  }
  expect(problems).toEqual([]);
  // The sweep met successes and errors alike.
  // The validator is not blind: a wrong type, a missing field and a null where none is allowed are found.
  const status = doc.paths["/api/v1/status"].get.responses["200"].content["application/json"].schema;
  const good = JSON.parse((await rawRequest(port, "GET", "/api/v1/status")).body);
  expect(schemaProblems(good, status, doc)).toEqual([]);
  expect(schemaProblems({ ...good, quality: 5 }, status, doc)).not.toEqual([]);
  expect(schemaProblems({ ...good, daemon: { ...good.daemon, version: undefined } }, status, doc)).not.toEqual([]);
  expect(schemaProblems({ ...good, upstreams: null }, status, doc)).not.toEqual([]);
  expect(statuses).toEqual(expect.arrayContaining(["POST /api/v1/keys 201", "POST /api/v1/keys 409", "POST /api/v1/keys 422", "GET /api/v1/upstreams/nope 404", "POST /api/v1/tunnel/start 409", "GET /api/v1/status 200", "PUT /api/v1/config 200"]));
});

test("docs/api.md's table of errors lists every code the control API can answer, and no other", () => {
  const REPO = join(import.meta.dir, "../..");
  const files = readdirSync(join(REPO, "src/api"), { recursive: true, withFileTypes: true }).filter((f) => f.isFile() && f.name.endsWith(".ts") && !f.name.endsWith(".test.ts"));
  const emitted = new Set<string>();
  for (const f of files) {
    const text = readFileSync(join(f.parentPath, f.name), "utf8");
    // The broker's document (docs/broker-spec.ts) names the broker's codes, not the control API's.
    if (f.name === "broker-spec.ts") continue;
    for (const m of text.matchAll(/new HttpError\(\s*"([a-z_]+)"/g)) emitted.add(m[1]!);
    for (const m of text.matchAll(/\bcode: "([a-z_]+)"/g)) if (m[1]! in ERROR_CODES) emitted.add(m[1]!);
    // Answers that are not the JSON error (a readiness state, a page for a browser) carry their code in the header alone.
    for (const m of text.matchAll(/(?:ERROR_CODE_HEADER\] = |\b[45]\d\d: )"([a-z_]+)"/g)) if (m[1]! in ERROR_CODES) emitted.add(m[1]!);
  }
  // The errors of the daemon's other classes reach the API through the one table (src/api/errors.ts → httpErrorOf); the
  // HttpError row is every code, and ApiError is the client's.
  for (const [family, rows] of Object.entries(ERROR_TABLE)) if (family !== "HttpError" && family !== "ApiError") for (const info of Object.values(rows as Record<string, { http?: string }>)) if (info.http) emitted.add(info.http);
  const section = readFileSync(join(REPO, "docs/api.md"), "utf8").split("| Status | Codes |")[1]!.split("\n\n")[0]!;
  const listed = new Set<string>();
  for (const line of section.split("\n").filter((l) => /^\| \d{3} \|/.test(l))) {
    const status = Number(line.slice(2, 5));
    for (const m of line.matchAll(/`([a-z_]+)`/g)) if (m[1]! in ERROR_CODES) {
      listed.add(m[1]!);
      expect({ code: m[1], status: ERROR_CODES[m[1] as keyof typeof ERROR_CODES] as number }).toEqual({ code: m[1], status });
    }
  }
  expect([...emitted].filter((c) => !listed.has(c)).sort()).toEqual([]);
  expect([...listed].filter((c) => !emitted.has(c)).sort()).toEqual([]);
  expect(emitted.size).toBeGreaterThan(12);
});

test("Host and Origin on a real listener: loopback spellings in, rebinding names and wildcards out; foreign, null and look-alike origins refused on reads, changes and /ws", async () => {
  const get = (host: string) => rawRequest(port, "GET", "/healthz", { host }).then((r) => `${r.status} ${r.headers["x-c2l-error-code"] ?? ""}`.trim());
  const hosts: Record<string, string> = {};
  for (const h of ["127.0.0.1", "localhost", "localhost.", "LOCALHOST:1", "app.localhost", "[::1]", "[::1]:8765", "127.0.0.1.nip.io", "localhost.evil.example", "0.0.0.0", "[::]", "127.1", "2130706433", "localhost..", "127.0.0.1:99999"]) hosts[h] = await get(h);
  expect(hosts).toEqual({
    "127.0.0.1": "200", localhost: "200", "localhost.": "200", "LOCALHOST:1": "200", "app.localhost": "200", "[::1]": "200", "[::1]:8765": "200",
    "127.0.0.1.nip.io": "403 host_not_allowed", "localhost.evil.example": "403 host_not_allowed", "0.0.0.0": "403 host_not_allowed", "[::]": "403 host_not_allowed",
    "127.1": "403 host_not_allowed", "2130706433": "403 host_not_allowed", "localhost..": "403 host_not_allowed", "127.0.0.1:99999": "403 host_not_allowed",
  });
  const auth = { authorization: `Bearer ${token}` };
  const own = `http://127.0.0.1:${port}`;
  const send = (method: string, path: string, origin: string, extra: Record<string, string> = {}) =>
    rawRequest(port, method, path, { headers: { ...auth, origin, ...extra } }).then((r) => `${r.status} ${r.headers["x-c2l-error-code"] ?? r.headers["access-control-allow-origin"] ?? ""}`.trim());
  const origins: Record<string, string[]> = {};
  for (const origin of [own, LISTED, "null", "http://evil.example", `http://localhost:${port}`, `${own}.evil.example`, `https://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`])
    origins[origin] = [await send("GET", "/api/v1/config", origin), await send("POST", "/api/v1/reconnect", origin), await send("GET", "/ws", origin, UPGRADE)];
  const refused = ["403 origin_not_allowed", "403 origin_not_allowed", "403 origin_not_allowed"];
  expect(origins).toEqual({
    [own]: [`200 ${own}`, `200 ${own}`, `101 ${own}`],
    [LISTED]: [`200 ${LISTED}`, `200 ${LISTED}`, `101 ${LISTED}`],
    null: refused,
    "http://evil.example": refused,
    // Another origin of this machine is another origin (the page may belong to anyone).
    [`http://localhost:${port}`]: refused,
    [`${own}.evil.example`]: refused,
    [`https://127.0.0.1:${port}`]: refused,
    [`http://127.0.0.1:${port + 1}`]: refused,
  });
});

test("a JSON body is read as JSON however it is spelled: a byte order mark, a charset parameter, an upper-case type; broken JSON is a 400 naming it", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const body = JSON.stringify({ api: { body_limit: 2048 } });
  const validate = (contentType: string, text: string) =>
    rawRequest(port, "POST", "/api/v1/config/validate", { headers: { ...auth, "content-type": contentType }, body: text }).then((r) => `${r.status} ${r.body}`);
  const valid = `200 ${JSON.stringify({ valid: true, issues: [] })}`;
  expect(await validate("application/json", "\ufeff" + body)).toBe(valid);
  expect(await validate("application/json; charset=utf-8", body)).toBe(valid);
  expect(await validate("Application/JSON", body)).toBe(valid);
  expect(await validate("application/toml", "\ufeff[api]\nbody_limit = 2048\n")).toBe(valid);
  for (const broken of [body + " trailing", body.slice(0, -1), "\ufeff\ufeff" + body]) {
    const r = await validate("application/json", broken);
    expect(r).toStartWith("400 ");
    expect(JSON.parse(r.slice(4)).error.message).toStartWith("the body is not valid JSON");
  }
});

test("a method no route takes is 404 not_found (never 405), with or without the token; one Bun's parser does not know gets no answer", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const answers: string[] = [];
  for (const [method, path] of [["PATCH", "/api/v1/config"], ["DELETE", "/healthz"], ["POST", "/api/v1/status"], ["PUT", "/api/v1/keys/x"], ["QUERY", "/api/v1/config"], ["PROPFIND", "/"], ["TRACE", "/healthz"], ["OPTIONS", "/api/v1/config"]] as const) {
    for (const headers of [{}, auth]) {
      const r = await rawRequest(port, method, path, { headers });
      answers.push(`${method} ${path} ${r.status} ${r.headers["x-c2l-error-code"]} ${JSON.parse(r.body).error.message}`);
    }
  }
  expect(answers.filter((a) => !/ 404 not_found no route /.test(a))).toEqual([]);
  const foo = await rawRequest(port, "FOO", "/healthz", { timeoutMs: 5000 }).catch((e) => ({ status: `refused: ${e}` }));
  expect(foo.status).toBe(0);
});

test("a file name that is a property every object inherits (constructor, __proto__, toString) is no dashboard file or Swagger asset: 404", async () => {
  const answers: string[] = [];
  for (const dir of ["/dashboard/", "/swagger/assets/"])
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
      const r = await rawRequest(port, "GET", dir + name);
      answers.push(`${dir}${name} ${r.status} ${r.headers["x-c2l-error-code"] ?? r.headers["content-type"]}`);
    }
  expect(answers.filter((a) => !a.endsWith(" 404 not_found"))).toEqual([]);
  // The real files are still there.
  for (const path of ["/dashboard/app.js", "/dashboard/icon.svg", "/swagger/assets/swagger-ui.css"]) expect((await rawRequest(port, "GET", path)).status).toBe(200);
});

test("JSON sent as text (fetch() with a string body says text/plain; a script may send no type) to a JSON-only route is 415 saying so; TOML routes still read text", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const body = JSON.stringify({ name: "texted" });
  for (const type of ["text/plain;charset=UTF-8", undefined]) {
    const r = await rawRequest(port, "POST", "/api/v1/keys", { headers: { ...auth, ...(type ? { "content-type": type } : {}) }, body });
    expect({ status: r.status, code: r.headers["x-c2l-error-code"] }).toEqual({ status: 415, code: "unsupported_media_type" });
    expect(JSON.parse(r.body).error.message).toContain("send it with Content-Type: application/json");
  }
  const toml = await rawRequest(port, "POST", "/api/v1/config/validate", { headers: { ...auth, "content-type": "text/plain" }, body: readConfig() });
  expect(toml.status).toBe(200);
  // Sent as JSON, the same body makes the key.
  const made = await rawRequest(port, "POST", "/api/v1/keys", { headers: { ...auth, "content-type": "application/json" }, body });
  expect(made.status).toBe(201);
});

test("a usage query for a day not in the calendar is 422 naming query.since, not an empty report", async () => {
  const auth = { authorization: `Bearer ${token}` };
  for (const since of ["2026-13-45", "2026-02-30", "2026-00-10"]) {
    const r = await rawRequest(port, "GET", `/api/v1/usage?since=${since}`, { headers: auth });
    expect({ since, status: r.status, path: JSON.parse(r.body).error?.details?.[0]?.path }).toEqual({ since, status: 422, path: "query.since" });
  }
  expect((await rawRequest(port, "GET", "/api/v1/usage?since=2026-02-28", { headers: auth })).status).toBe(200);
});

test("a key's lifetime longer than a date can hold is 422 naming body.expires, not a 500 (and no key is made)", async () => {
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const r = await rawRequest(port, "POST", "/api/v1/keys", { headers: auth, body: JSON.stringify({ name: "forever", expires: "999999999d" }) });
  expect({ status: r.status, path: JSON.parse(r.body).error?.details?.[0]?.path }).toEqual({ status: 422, path: "body.expires" });
  expect((await rawRequest(port, "GET", "/api/v1/keys/forever", { headers: auth })).status).toBe(404);
  expect(d.stderr()).not.toContain("Invalid Date");
});

test("docs/api.md's Routes section names every operation of the document, and its Token column says what each one's security says", () => {
  const section = readFileSync(join(import.meta.dir, "../../docs/api.md"), "utf8").split("\n## Routes\n")[1]!.split("\n## ")[0]!;
  /** "GET /api/v1/events[?limit]" → ["GET", "/api/v1/events"]; a bare "/auth" or "/dashboard/*" has no method. */
  const routeOf = (tick: string): [string | null, string] | null => {
    const m = /^(?:([A-Z]+) )?(\/[^\s[{]*)/.exec(tick);
    return m ? [m[1] ?? null, m[2]!] : null;
  };
  const covers = (route: [string | null, string], method: string, path: string) =>
    (route[0] === null || route[0] === method) && (route[1] === path || (route[1].endsWith("*") && path.startsWith(route[1].slice(0, -1))));
  const tableToken = new Map<string, string>();
  for (const row of section.split("\n").filter((l) => l.startsWith("| `")))
    for (const [, tick] of row.split(" | ")[0]!.matchAll(/`([^`]+)`/g)) {
      const r = routeOf(tick!);
      if (r?.[0]) tableToken.set(`${r[0]} ${r[1]}`, row.split(" | ")[1]!);
    }
  const mentioned = [...section.matchAll(/`([^`]+)`/g)].map((m) => routeOf(m[1]!)).filter((r) => r !== null);
  const problems: string[] = [];
  for (const { method, path, op } of ops) {
    const p = path.replace(/\{(\w+)\}/g, ":$1");
    if (!mentioned.some((r) => covers(r, method, p))) problems.push(`${method} ${p} is not in docs/api.md's Routes`);
    const token = tableToken.get(`${method} ${p}`);
    const isPublic = (op.security ?? doc.security).length === 0;
    if (token !== undefined && token !== (isPublic ? "–" : "yes")) problems.push(`${method} ${p}: the table says "${token}", the document ${isPublic ? "public" : "protected"}`);
  }
  // And the other way: each row of the table is a route the document lists (or one of the docs' own, hidden from it).
  const hidden = new Set(["GET /swagger", "GET /swagger/json", "GET /api/v1/docs/broker.json"]);
  for (const key of tableToken.keys()) {
    const [method, p] = key.split(" ") as [string, string];
    if (!hidden.has(key) && !ops.some((o) => o.method === method && o.path.replace(/\{(\w+)\}/g, ":$1") === p)) problems.push(`docs/api.md lists ${key}, which the document does not`);
  }
  expect(problems).toEqual([]);
  expect(tableToken.size).toBeGreaterThan(25);
});

test("Swagger UI's broker document and CSP name the broker where it listens: the bound port (for a :0 in the config), a wildcard through loopback", async () => {
  const broker = d.urls.broker!; // "listening url=" of the broker: its bound address
  const spec = JSON.parse((await rawRequest(port, "GET", "/api/v1/docs/broker.json")).body);
  expect(spec.servers[0].url).toBe(broker);
  expect((await rawRequest(port, "GET", "/swagger")).headers["content-security-policy"]).toContain(`connect-src 'self' ${broker};`);
  // A wildcard listen: the page calls the broker through loopback, which the document shows and the CSP must let through.
  const env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "0.0.0.0:11999"\n`);
  try {
    const app = createApp(env.daemon.ctx, { token: () => TOKEN });
    await app.modules;
    const csp = (await app.handle(new Request("http://127.0.0.1/swagger"))).headers.get("content-security-policy");
    const servers = ((await (await app.handle(new Request("http://127.0.0.1/api/v1/docs/broker.json"))).json()) as any).servers;
    expect({ csp: csp?.includes("connect-src 'self' http://127.0.0.1:11999;"), server: servers[0].url }).toEqual({ csp: true, server: "http://127.0.0.1:11999" });
  } finally {
    env.cleanup();
  }
});

test("a waiting access request is found by its own cookie when a page on another port of this host set one of the same name", async () => {
  const asked = await rawRequest(port, "POST", "/auth/request", { headers: { origin: `http://127.0.0.1:${port}` } });
  expect(asked.status).toBe(303);
  const own = asked.headers["set-cookie"]!.split(";")[0]!; // c2l_access=…
  const wait = (cookie: string) => rawRequest(port, "GET", "/auth/wait", { headers: { cookie } }).then((r) => r.status);
  expect(await wait(own)).toBe(202);
  expect(await wait(`c2l_access=tossed; ${own}`)).toBe(202);
  expect(await wait("c2l_access=tossed")).toBe(401);
});

test("each body media type the document lists is one the route reads (none is answered 415), and the ones it leaves out are refused", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const sample: Record<string, string> = { "application/json": "{}", "application/toml": "[api]\n", "text/plain": "[api]\n", "multipart/form-data; boundary=x": "--x--\r\n" };
  const problems: string[] = [];
  for (const { method, path, op } of ops.filter((o) => o.op.requestBody)) {
    // The config writes would apply what they read: only their dry run, validate, is sent each type.
    if (method !== "POST" || /import/.test(path)) continue;
    const listed = Object.keys(op.requestBody.content);
    for (const [type, body] of Object.entries(sample)) {
      const r = await rawRequest(port, method, fill(path), { headers: { ...auth, "content-type": type }, body });
      const read = r.status !== 415;
      if (read !== listed.includes(type)) problems.push(`${method} ${path} with ${type}: ${r.status}, the document ${listed.includes(type) ? "lists" : "does not list"} it`);
    }
  }
  expect(problems).toEqual([]);
});

test("[api] allowed_origins entries that let no page in (\"*\", a bare host, a path) or every sandboxed page (\"null\") are named in the status warnings", async () => {
  const env = testEnv(`[api]\nlisten = "127.0.0.1:0"\nallowed_origins = ["*", "null", "app.example.com", "https://app.example.com/ui", "HTTPS://Good.Example/", "chrome-extension://abcdef"]\n`);
  try {
    const app = createApp(env.daemon.ctx, { token: () => TOKEN });
    const status = (await (await app.handle(new Request("http://127.0.0.1/api/v1/status"))).json()) as { warnings: string[] };
    const about = status.warnings.filter((w) => w.startsWith("[api] allowed_origins"));
    expect(about).toEqual([
      expect.stringContaining('has "*", which lets no page in'),
      expect.stringContaining('has "null", the Origin of every sandboxed frame'),
      expect.stringContaining('has "app.example.com", which is not an origin'),
      expect.stringContaining('has "https://app.example.com/ui", which is not an origin'),
    ]);
    // "*" is what it says: no page gets in with it.
    const r = await app.handle(new Request("http://127.0.0.1/api/v1/status", { headers: { origin: "https://any.example" } }));
    expect(r.status).toBe(403);
  } finally {
    env.cleanup();
  }
});

/** The value Swagger UI's "Try it out" starts from: the example, else a placeholder of the type (a union: its first branch's). */
function sampleOf(s: any): unknown {
  if (!s || typeof s !== "object") return undefined;
  if (s.example !== undefined) return s.example;
  if (s.enum) return s.enum[0];
  if (s.anyOf || s.oneOf) return sampleOf((s.anyOf ?? s.oneOf)[0]);
  switch (s.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return 0;
    case "boolean":
      return true;
    case "array":
      return [sampleOf(s.items)];
    case "object":
      return Object.fromEntries(Object.entries<any>(s.properties ?? {}).map(([k, v]) => [k, sampleOf(v)]));
  }
  return undefined;
}

test("the body Swagger UI's Try it out starts from (each operation's example) passes the route's own validation", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const problems: string[] = [];
  for (const { method, path, op } of ops.filter((o) => o.op.requestBody)) {
    // The config writes would apply it: their dry run, validate, has the same body schema.
    if (method !== "POST" || /import/.test(path)) continue;
    for (const [type, media] of Object.entries<any>(op.requestBody.content)) {
      const sample = sampleOf(media.schema);
      const body = type === "application/json" ? JSON.stringify(sample) : String(sample);
      const r = await rawRequest(port, method, fill(path), { headers: { ...auth, "content-type": type }, body });
      if (r.status === 422 || r.status === 400 || r.status === 415) problems.push(`${method} ${path} (${type}) with ${body.slice(0, 120)}: ${r.status} ${r.body.slice(0, 160)}`);
    }
  }
  expect(problems).toEqual([]);
});

test("a number field given text names the type once (TypeBox says \"one of: 'integer', 'integer'\" for the string and number forms)", async () => {
  const r = await rawRequest(port, "POST", "/api/v1/keys", { headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "numbers", rpm: "many" }) });
  expect(r.status).toBe(422);
  expect(JSON.parse(r.body).error.message).toBe("body.rpm: Property 'rpm' should be 'integer'");
  const q = await rawRequest(port, "GET", "/api/v1/events?since=soon");
  expect(JSON.parse(q.body).error.message).toBe("query.since: Property 'since' should be 'integer'");
});

test("the public operations are exactly these: a new route that forgets its token, or one made public, fails here until it is reviewed and added", () => {
  const pub = ops.filter((o) => (o.op.security ?? doc.security).length === 0).map((o) => `${o.method} ${o.path}`);
  expect(pub.sort()).toEqual(
    [
      // Health and what the tray, `status` and monitoring read without the token (docs/api.md: the "–" rows).
      "GET /healthz", "GET /readyz", "GET /metrics", "GET /api/v1/status", "GET /api/v1/upstreams", "GET /api/v1/upstreams/{name}", "GET /api/v1/models",
      "GET /api/v1/metrics", "GET /api/v1/tunnel", "GET /api/v1/version", "GET /api/v1/events", "GET /api/v1/auth",
      // The dashboard's pages and sign-in, which a browser without a session must reach (same-user and Origin checks of their own).
      "GET /", "GET /auth", "GET /auth/wait", "POST /auth/request", "GET /dashboard/{file}",
    ].sort(),
  );
});

test("the query Swagger UI's Try it out fills in (each parameter's example) passes the route's own validation", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const problems: string[] = [];
  let filled = 0;
  for (const { method, path, op } of ops.filter((o) => o.method === "GET" && o.path !== "/ws")) {
    const query = new URLSearchParams();
    for (const p of (op.parameters ?? []) as any[]) {
      if (p.in !== "query") continue;
      const v = p.example ?? p.schema?.example;
      if (v !== undefined) (query.set(p.name, String(v)), filled++);
    }
    const r = await rawRequest(port, method, `${fill(path)}${query.size ? `?${query}` : ""}`, { headers: auth });
    if (r.status === 422 || r.status === 400) problems.push(`${method} ${path}?${query}: ${r.status} ${r.body.slice(0, 160)}`);
  }
  expect(problems).toEqual([]);
  expect(filled).toBeGreaterThan(2);
});

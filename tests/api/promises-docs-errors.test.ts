// docs/api.md, "Errors", against a real daemon: every refusal of every route the OpenAPI document lists (no token, a
// broken, foreign or ill-typed body, a bad query, a method the path does not take) is the one JSON shape with a stable
// code of ERROR_CODES, its status, and the same code in x-c2l-error-code (docs/errors.md, "The header"); the pages a
// browser opens refuse as HTML, with the code in that header too.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { ERROR_CODE_HEADER, ERROR_CODES } from "../../src/core/http-error.ts";
import { apiToken, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest, type RawResponse } from "../helpers/raw-http.ts";

setDefaultTimeout(60_000);

/** The routes a browser opens as pages (docs/api.md, Dashboard access): their refusals are HTML for that browser. */
const PAGES = new Set(["GET /", "GET /auth", "POST /auth/request", "GET /auth/wait"]);
/** /readyz not ready answers its state (probes read the status), the code in the header alone. */
const STATES = new Set(["GET /readyz"]);

let d: DaemonProc;
let port: number;
let token: string;
let ops: { method: string; path: string }[] = [];

beforeAll(async () => {
  // The upstream is at a port nothing listens on: the default, 127.0.0.1:11434, is where a developer's own Ollama
  // answers, and /readyz would then be ready.
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`,
  });
  port = Number(new URL(d.urls.api!).port);
  token = await apiToken(d);
  const doc = JSON.parse((await rawRequest(port, "GET", "/swagger/json")).body) as { paths: Record<string, Record<string, unknown>> };
  ops = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => ({ method: m.toUpperCase(), path })));
});
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

/** What is wrong with an error answer, or null: the JSON shape, a code of the table with its status, the header. */
function problem(r: RawResponse, kind: "json" | "page" | "state"): string | null {
  const header = r.headers[ERROR_CODE_HEADER];
  if (!header || !Object.hasOwn(ERROR_CODES, header)) return `${ERROR_CODE_HEADER}: ${header ?? "(none)"}`;
  // A page refuses as HTML, except what the security layer refuses before the route (a body it cannot read), which is JSON.
  if (kind === "page" && r.headers["content-type"]?.startsWith("text/html")) return null;
  if (kind === "state") return r.status === 503 && header === "not_ready" && JSON.parse(r.body).ready === false ? null : `state ${r.status} ${header} ${r.body.slice(0, 80)}`;
  let body: { error?: { code?: unknown; message?: unknown } };
  try {
    body = JSON.parse(r.body);
  } catch {
    return `not JSON: ${r.body.slice(0, 80)}`;
  }
  if (body.error?.code !== header || typeof body.error.message !== "string" || !body.error.message) return `body ${r.body.slice(0, 120)}`;
  // A code's own status, but for the few that Elysia's 4xx answers carry with bad_request (a status of their own).
  return ERROR_CODES[header as keyof typeof ERROR_CODES] === r.status || header === "bad_request" ? null : `status ${r.status} for ${header}`;
}

test("every refusal on every documented route is the one JSON shape with a stable code, its status and the same code in x-c2l-error-code; the browser's pages refuse as HTML with that header", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const tries: { name: string; headers: Record<string, string>; body?: string; query?: string }[] = [
    { name: "no credentials", headers: {} },
    { name: "a wrong token", headers: { authorization: "Bearer wrong" } },
    { name: "broken JSON", headers: { ...auth, "content-type": "application/json" }, body: "{broken" },
    { name: "XML", headers: { ...auth, "content-type": "application/xml" }, body: "<a/>" },
    { name: "ill-typed JSON", headers: { ...auth, "content-type": "application/json" }, body: '{"name":5,"code":[],"models":"x","rpm":"many"}' },
    { name: "a bad query", headers: auth, query: "?limit=abc&since=zz&after=@@&client=%ZZ" },
  ];
  const wrong: string[] = [];
  const seen = new Set<string>();
  let refusals = 0;
  for (const op of ops) {
    const path = op.path.replace(/\{(\w+)\}/g, "x");
    for (const t of tries) {
      const body = op.method === "GET" || op.method === "DELETE" ? undefined : t.body;
      const r = await rawRequest(port, op.method, path + (t.query ?? ""), { headers: t.headers, body });
      if (r.status < 400) continue;
      refusals++;
      const route = `${op.method} ${op.path}`;
      const why = problem(r, PAGES.has(route) ? "page" : STATES.has(route) ? "state" : "json");
      if (why) wrong.push(`${op.method} ${path} (${t.name}): ${r.status} ${why}`);
      else seen.add(r.headers[ERROR_CODE_HEADER]!);
    }
  }
  // A method the path does not take: 404 not_found, never 405.
  for (const [method, path] of [["PATCH", "/api/v1/config"], ["DELETE", "/healthz"], ["PUT", "/api/v1/status"]] as const) {
    const r = await rawRequest(port, method, path, { headers: auth });
    expect(`${r.status} ${r.headers[ERROR_CODE_HEADER]}`).toBe("404 not_found");
    if (problem(r, "json")) wrong.push(`${method} ${path}: ${problem(r, "json")}`);
  }
  expect(wrong).toEqual([]);
  expect(refusals).toBeGreaterThan(150);
  expect([...seen]).toEqual(expect.arrayContaining(["unauthorized", "bad_request", "unsupported_media_type", "validation_failed", "not_found"]));
});

test("the pages a browser opens refuse with the status and code the API would use (no session 401 unauthorized, a form from elsewhere 403), and /readyz not ready names not_ready", async () => {
  const noSession = await rawRequest(port, "GET", "/");
  expect([noSession.status, noSession.headers[ERROR_CODE_HEADER], noSession.headers["content-type"]]).toEqual([401, "unauthorized", "text/html; charset=utf-8"]);
  const spent = await rawRequest(port, "GET", "/auth?code=not-a-code");
  expect([spent.status, spent.headers[ERROR_CODE_HEADER]]).toEqual([401, "unauthorized"]);
  const foreign = await rawRequest(port, "POST", "/auth/request", { headers: { origin: "http://evil.example" } });
  expect(foreign.status).toBe(403);
  expect(foreign.headers[ERROR_CODE_HEADER]).toMatch(/^(forbidden|origin_not_allowed)$/);
  // /readyz not ready: its state, the code in the header (the daemon has no upstream up here).
  const ready = await rawRequest(port, "GET", "/readyz");
  expect([ready.status, ready.headers[ERROR_CODE_HEADER], JSON.parse(ready.body).ready]).toEqual([503, "not_ready", false]);
  // An answer that is not a refusal carries no code.
  const healthz = await rawRequest(port, "GET", "/healthz");
  expect([healthz.status, healthz.headers[ERROR_CODE_HEADER]]).toEqual([200, undefined]);
});

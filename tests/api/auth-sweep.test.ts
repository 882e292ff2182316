// Every route in the OpenAPI document × every spelling of its path (trailing slash, "//", case, percent-encoding, dot segments)
// × its own method, HEAD and OPTIONS, without credentials, through a real listener: nothing protected answers, nothing private leaks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { createInspectorComponent } from "../../src/inspector/component.ts";
import { requestRecord } from "../helpers/request-record.ts";
import { rawRequest, type RawResponse } from "../helpers/raw-http.ts";
import { AUTH, StubBroker, StubTunnel, TOKEN, testEnv, upstream, type TestEnv } from "./stubs.ts";

const PROMPT = "PRIVATE-PROMPT-7f3a9c";
const URL_SECRET = "hunter2secret";
const TOML = `[api]
listen = "127.0.0.1:0"

[dashboard]
capture_bodies = true

[[upstreams]]
name = "local"
url = "http://user:${URL_SECRET}@127.0.0.1:11434"
`;
// A document that declares no default protects every route it does not mark public (the rule the API enforces).
const DEFAULT = [{ bearer: [] }];
const UPGRADE = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

let env: TestEnv;
let app: ApiApp;
let port: number;
let broker: StubBroker;
let tunnel: StubTunnel;
let backupId: string;

interface Op {
  method: string;
  path: string; // with {params}
  public: boolean;
}
let ops: Op[] = [];
let doc: any;

beforeAll(async () => {
  env = testEnv(TOML);
  broker = new StubBroker([upstream("local", "up", ["llama3.2:1b"])]);
  tunnel = new StubTunnel();
  env.daemon.services.broker = broker;
  env.daemon.services.tunnel = tunnel;
  await createInspectorComponent(env.daemon.ctx).start();
  env.daemon.events.emit("request.completed", requestRecord({ requestBody: `{"prompt":"${PROMPT}"}`, responseBody: `{"response":"${PROMPT}"}` }));
  app = createApp(env.daemon.ctx, { token: () => TOKEN });
  await app.modules;
  app.listen({ hostname: "127.0.0.1", port: 0 });
  port = (app.server as { port: number }).port;

  // A backup to name in /backups/{id}/restore (made with the token).
  const put = await rawRequest(port, "PUT", "/api/v1/config", { headers: { ...AUTH, "content-type": "application/toml" }, body: TOML });
  expect(put.status).toBe(200);
  backupId = JSON.parse(put.body).backup.id;

  doc = JSON.parse((await rawRequest(port, "GET", "/swagger/json")).body);
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths))
    for (const [method, op] of Object.entries(item)) ops.push({ method: method.toUpperCase(), path, public: (op.security ?? doc.security ?? DEFAULT).length === 0 });
});
afterAll(async () => {
  await app?.stop(true);
  env?.cleanup();
});

function fill(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_, p: string) => ({ name: "local", id: backupId, file: "app.js" })[p] ?? "x");
}

/** The spellings of a path a router or a proxy might treat as the same route (or a guard as a different one). */
function spellings(path: string): string[] {
  const cut = path.lastIndexOf("/");
  const head = path.slice(0, cut);
  const last = path.slice(cut + 1);
  const letter = last.search(/[a-z]/i);
  const enc = letter < 0 ? last : last.slice(0, letter) + "%" + last.charCodeAt(letter).toString(16) + last.slice(letter + 1);
  return [
    ...new Set([
      path,
      `${path}/`,
      `${path}//`,
      `/${path}`,
      `${head}//${last}`,
      `${head}/./${last}`,
      `${head}/x/../${last}`,
      `${path}/.`,
      `${path}?`,
      `${path}/?a=1`,
      `${path}%2F`,
      `${head}%2F${last}`,
      `${path};x`,
      path.toUpperCase(),
      `${head}/${last.charAt(0).toUpperCase()}${last.slice(1)}`,
      `${head}/${enc}`,
      `${head}/${encodeURIComponent(last).replace(/[a-z]/gi, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())}`,
    ]),
  ];
}

function leaks(r: RawResponse): string[] {
  return [TOKEN, PROMPT, URL_SECRET].filter((s) => r.raw.includes(s));
}

describe("route × spelling sweep without credentials (issue 12 item 3)", () => {
  test("the OpenAPI document lists every route the app serves (hidden ones are the docs' own, which are public)", () => {
    const inDoc = new Set(ops.map((o) => `${o.method} ${o.path}`));
    const missing = (app.routes as { method: string; path: string; hooks?: { detail?: { hide?: boolean; security?: unknown[] } } }[])
      .filter((r) => r.method !== "OPTIONS")
      .filter((r) => !inDoc.has(`${r.method === "WS" ? "GET" : r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`))
      .filter((r) => !(r.hooks?.detail?.hide === true && r.hooks.detail.security?.length === 0))
      .map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
    expect(ops.length).toBeGreaterThan(30);
  });

  test("the document declares the default and every public route", () => {
    expect(doc.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["bearer", "session"]);
    const pub = ops.filter((o) => o.public).map((o) => `${o.method} ${o.path}`);
    for (const p of ["GET /healthz", "GET /api/v1/version", "GET /", "GET /dashboard/{file}"]) expect(pub).toContain(p);
    for (const p of ["GET /api/v1/requests", "GET /ws", "GET /api/v1/config", "PUT /api/v1/config", "GET /api/v1/dashboard/history"]) expect(pub).not.toContain(p);
  });

  test("no spelling of a protected route answers without the token, and no answer carries private data", async () => {
    const protectedOps = ops.filter((o) => !o.public);
    expect(protectedOps.map((o) => `${o.method} ${o.path}`)).toEqual(expect.arrayContaining(["GET /api/v1/requests", "GET /ws", "GET /api/v1/config/export"]));
    const configBefore = readFileSync(env.file, "utf8");
    const failures: string[] = [];
    let sent = 0;
    for (const op of protectedOps) {
      const path = fill(op.path);
      // The exact spelling reaches the route and is refused: the sweep is not passing on 404s alone.
      const exact = await rawRequest(port, op.method, path, { headers: op.path === "/ws" ? UPGRADE : {} });
      if (exact.status !== 401) failures.push(`${op.method} ${path} → ${exact.status} (expected 401)`);
      for (const spelling of spellings(path))
        for (const method of new Set([op.method, "HEAD", "OPTIONS"])) {
          const headers: Record<string, string> = op.path === "/ws" && method === "GET" ? { ...UPGRADE } : {};
          const body = ["GET", "HEAD", "OPTIONS"].includes(method) ? undefined : "{}";
          if (body) headers["content-type"] = "application/json";
          const r = await rawRequest(port, method, spelling, { headers, body });
          sent++;
          if (r.status < 400) failures.push(`${method} ${spelling} → ${r.status} without a token`);
          const leaked = leaks(r);
          if (leaked.length) failures.push(`${method} ${spelling} → ${r.status} leaks ${leaked.join(", ")}`);
        }
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(500);
    // Nothing happened on the refused requests.
    expect(broker.calls).toEqual([]);
    expect(tunnel.calls).toEqual([]);
    expect(readFileSync(env.file, "utf8")).toBe(configBefore);
  });

  test("public routes answer without the token (the sweep reaches real routes)", async () => {
    for (const op of ops.filter((o) => o.public && o.method === "GET")) {
      const r = await rawRequest(port, "GET", fill(op.path));
      expect({ route: op.path, status: r.status === 404 || /"code":"unauthorized"/.test(r.body) ? r.status : "answered" }).toEqual({ route: op.path, status: "answered" });
    }
  });

  test("with the token the same spellings reach the route: the inspector's prompt is there to leak", async () => {
    for (const spelling of ["/api/v1/requests", "/api/v1/requests/"]) {
      const r = await rawRequest(port, "GET", spelling, { headers: AUTH });
      expect(r.status).toBe(200);
      expect(r.body).toContain(PROMPT);
    }
    expect((await rawRequest(port, "GET", "/ws/", { headers: { ...UPGRADE, ...AUTH } })).status).toBe(101);
  });

  test("the dashboard session cookie is accepted where the default applies, not where a route asks for the token only", async () => {
    const code = JSON.parse((await rawRequest(port, "POST", "/api/v1/dashboard/code", { headers: AUTH })).body).code;
    const auth = await rawRequest(port, "GET", `/auth?code=${encodeURIComponent(code)}`);
    expect(auth.status).toBe(303);
    const cookie = auth.headers["set-cookie"]!.split(";")[0]!;
    expect((await rawRequest(port, "GET", "/api/v1/requests/", { headers: { cookie } })).status).toBe(200);
    expect((await rawRequest(port, "GET", "/api/v1/dashboard/session", { headers: { cookie } })).status).toBe(200);
    const mint = await rawRequest(port, "POST", "/api/v1/dashboard/code/", { headers: { cookie, origin: `http://127.0.0.1:${port}` } });
    expect(mint.status).toBe(401);
    // A change with the cookie still needs the CSRF token.
    expect((await rawRequest(port, "POST", "/api/v1/tunnel/stop/", { headers: { cookie, origin: `http://127.0.0.1:${port}` } })).status).toBe(403);
    expect(tunnel.calls).toEqual([]);
  });
});

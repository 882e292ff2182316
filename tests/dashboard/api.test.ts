// The dashboard's routes through app.handle: one-time code → cookie, the cookie accepted by authenticate (CSRF + Origin
// for changes), bearer-only code minting, the page and its assets, and GET /api/v1/requests with filters.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { createInspectorComponent } from "../../src/inspector/component.ts";
import type { RequestRecord } from "../../src/core/contracts.ts";
import { createMetricsHistoryComponent } from "../../src/dashboard/history-component.ts";
import { AUTH, StubBroker, TOKEN, testEnv, upstream, type TestEnv } from "../api/stubs.ts";
import { requestRecord as record } from "../helpers/request-record.ts";

const BASE = "http://127.0.0.1:8765";
let env: TestEnv;
let app: ApiApp;

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const res = await app.handle(new Request(BASE + path, { method, headers: { host: "127.0.0.1:8765", ...headers }, body }));
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const code = await call("POST", "/api/v1/dashboard/code", AUTH);
  expect(code.status).toBe(200);
  const ex = await call("GET", code.json.path);
  const cookie = ex.headers.get("set-cookie")!.split(";")[0]!;
  const page = await call("GET", "/", { cookie });
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)![1]!;
  return { cookie, csrf };
}

beforeAll(async () => {
  env = testEnv("[dashboard]\ninspector_size = 3\n");
  const inspector = createInspectorComponent(env.daemon.ctx);
  await inspector.start();
  app = createApp(env.daemon.ctx, { token: () => TOKEN, docs: false });
});
afterAll(() => env.cleanup());

describe("dashboard sign-in", () => {
  test("a one-time code needs the bearer token; the dashboard cookie cannot mint one", async () => {
    expect((await call("POST", "/api/v1/dashboard/code")).status).toBe(401);
    const { cookie, csrf } = await signIn();
    const viaCookie = await call("POST", "/api/v1/dashboard/code", { cookie, "x-csrf-token": csrf, origin: BASE });
    expect(viaCookie.status).toBe(401);
    expect(viaCookie.json.error.code).toBe("unauthorized");
  });

  test("the code is traded once for an HttpOnly SameSite=Strict cookie and a redirect to /", async () => {
    const code = await call("POST", "/api/v1/dashboard/code", AUTH);
    expect(code.json.url).toBe(`${BASE}${code.json.path}`);
    const ex = await call("GET", code.json.path);
    expect(ex.status).toBe(303);
    expect(ex.headers.get("location")).toBe("/");
    expect(ex.headers.get("set-cookie")).toMatch(/^c2l_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\//);
    const again = await call("GET", code.json.path);
    expect(again.status).toBe(401);
    expect(again.headers.get("set-cookie")).toBeNull();
    expect((await call("GET", "/auth?code=made-up")).status).toBe(401);
  });

  test("/ without a session is a plain page that says how to get in; with one it is the app with a CSRF meta tag and a strict CSP", async () => {
    const none = await call("GET", "/");
    expect(none.status).toBe(401);
    expect(none.text).toContain("cloudtolocalllm-tunnel dashboard");
    expect(none.text).not.toContain("<script");
    const { cookie, csrf } = await signIn();
    const page = await call("GET", "/", { cookie });
    expect(page.status).toBe(200);
    expect(csrf.length).toBeGreaterThan(20);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(page.headers.get("cache-control")).toBe("no-store");
  });

  test("assets are served without a session, typed, and unknown names are 404", async () => {
    const { cookie } = await signIn();
    const version = /app\.js\?v=([^"&]+)"/.exec((await call("GET", "/", { cookie })).text)![1]!;
    const js = await call("GET", `/dashboard/app.js?v=${version}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toStartWith("text/javascript");
    expect(js.headers.get("cache-control")).toContain("immutable");
    // A page loaded from the daemon before an upgrade asks for its own version after the restart: this build's file,
    // not cached for good under that name (it would stand in for the old file after a downgrade).
    const other = await call("GET", "/dashboard/app.js?v=0123abcd");
    expect(other.status).toBe(200);
    expect(other.headers.get("cache-control")).toBe("no-cache");
    expect((await call("GET", "/dashboard/app.css")).headers.get("content-type")).toStartWith("text/css");
    expect((await call("GET", "/dashboard/icon.svg")).text).toStartWith("<svg");
    expect((await call("GET", "/dashboard/secrets.txt")).status).toBe(404);
  });

  test("the cookie authenticates reads; changes need the CSRF header and the API's own Origin", async () => {
    const { cookie, csrf } = await signIn();
    expect((await call("GET", "/api/v1/config", { cookie })).status).toBe(200);
    expect((await call("GET", "/api/v1/config", { cookie: "c2l_session=forged" })).status).toBe(401);

    const put = (headers: Record<string, string>) => call("POST", "/api/v1/config/validate", { cookie, "content-type": "application/toml", ...headers }, "[logging]\nlevel = \"info\"\n");
    const noToken = await put({ origin: BASE });
    expect(noToken.status).toBe(403);
    expect(noToken.json.error.code).toBe("csrf_failed");
    const noOrigin = await put({ "x-csrf-token": csrf });
    expect(noOrigin.status).toBe(403);
    expect(noOrigin.json.error.code).toBe("csrf_failed");
    const ok = await put({ "x-csrf-token": csrf, origin: BASE });
    expect(ok.status).toBe(200);
    expect(ok.json.valid).toBe(true);
  });

  test("logout ends the session", async () => {
    const { cookie, csrf } = await signIn();
    const out = await call("POST", "/api/v1/dashboard/logout", { cookie, "x-csrf-token": csrf, origin: BASE });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await call("GET", "/api/v1/dashboard/session", { cookie })).status).toBe(401);
  });
});

describe("GET /api/v1/requests", () => {
  test("needs a token or the session; lists the inspector's ring newest first, bounded, with filters", async () => {
    expect((await call("GET", "/api/v1/requests")).status).toBe(401);
    const events = env.daemon.ctx.events;
    const a = record({ source: "tunnel", status: 200 });
    const b = record({ status: 503, error: "upstream unavailable", upstream: "gpu" });
    const c = record({ status: 200, path: "/v1/chat/completions", requestBody: "secret prompt" });
    const d = record({ status: 404, path: "/api/show" });
    for (const r of [a, b, c, d]) events.emit("request.completed", r);

    const all = await call("GET", "/api/v1/requests", AUTH);
    expect(all.status).toBe(200);
    expect(all.json.capacity).toBe(3);
    expect(all.json.captureBodies).toBe(false);
    expect(all.json.requests.map((r: RequestRecord) => r.id)).toEqual([d.id, c.id, b.id]);
    expect(all.text).not.toContain("secret prompt");

    const ids = async (q: string) => (await call("GET", `/api/v1/requests?${q}`, AUTH)).json.requests.map((r: RequestRecord) => r.id);
    expect(await ids("status=5xx")).toEqual([b.id]);
    expect(await ids("status=error")).toEqual([d.id, b.id]);
    expect(await ids("upstream=gpu")).toEqual([b.id]);
    expect(await ids("path=completions")).toEqual([c.id]);
    expect(await ids("source=local&limit=1")).toEqual([d.id]);
    expect(await ids("source=tunnel")).toEqual([]); // a fell out of the 3-record ring
    expect(await ids(`after=${c.id}`)).toEqual([d.id]);

    const bad = await call("GET", "/api/v1/requests?status=weird", AUTH);
    expect(bad.status).toBe(422);
    expect(bad.json.error.details[0].path).toBe("query.status");
  });

  test("without ?source both local and tunnel requests are listed (an absent filter is not filled with a default)", async () => {
    const local = record({ source: "local" });
    const tunnel = record({ source: "tunnel" });
    for (const r of [local, tunnel]) env.daemon.ctx.events.emit("request.completed", r);
    const ids = async (q: string) => (await call("GET", `/api/v1/requests${q}`, AUTH)).json.requests.map((r: RequestRecord) => r.id).slice(0, 2);
    expect(await ids("")).toEqual([tunnel.id, local.id]);
    expect(await ids("?source=tunnel")).toEqual([tunnel.id]);
  });
});

test("the OpenAPI document lists the dashboard and inspector routes", async () => {
  const withDocs = createApp(env.daemon.ctx, { token: () => TOKEN });
  await (withDocs as unknown as { modules: Promise<unknown> }).modules; // the docs module loads lazily
  const res = await withDocs.handle(new Request(`${BASE}/swagger/json`, { headers: { host: "127.0.0.1:8765" } }));
  const paths = Object.keys(((await res.json()) as { paths: Record<string, unknown> }).paths);
  for (const p of ["/", "/auth", "/dashboard/{file}", "/api/v1/dashboard/code", "/api/v1/dashboard/session", "/api/v1/dashboard/logout", "/api/v1/requests"])
    expect(paths).toContain(p);
});

test("GET /api/v1/dashboard/history: the daemon's samples of each upstream for the charts", async () => {
  expect((await call("GET", "/api/v1/dashboard/history")).status).toBe(401);
  const empty = await call("GET", "/api/v1/dashboard/history", AUTH);
  expect(empty.json).toEqual({ intervalMs: 0, windowMs: 15 * 60_000, upstreams: {} });

  env.daemon.ctx.services.broker = new StubBroker([upstream("local", "up", ["llama3"])]);
  const sampler = createMetricsHistoryComponent(20)(env.daemon.ctx);
  await sampler.start();
  try {
    await Bun.sleep(120);
    const h = await call("GET", "/api/v1/dashboard/history", AUTH);
    expect(h.status).toBe(200);
    expect(h.json.intervalMs).toBe(20);
    const pts = h.json.upstreams.local;
    expect(pts.length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(pts[0]).sort()).toEqual(["p50", "p95", "rps", "t", "tps"]);
    expect(pts[1].t).toBeGreaterThan(pts[0].t);
  } finally {
    await sampler.stop();
    delete env.daemon.ctx.services.broker;
    delete env.daemon.ctx.services.metricsHistory;
  }
});

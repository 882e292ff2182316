// Swagger UI works offline: headless Chromium loads /swagger with every non-127.0.0.1 request blocked and finds the routes rendered;
// opened from a dashboard session its "Try it out" makes changes (the CSRF header is sent); the broker's document sits beside it.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium } from "../helpers/dashboard-browser.ts";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { REPO } from "../helpers/daemon.ts";
import { StubBroker, TOKEN, testEnv, upstream, type TestEnv } from "./stubs.ts";
import { sessionsFor } from "../../src/api/security/sessions.ts";
import { openApiProblems } from "../helpers/openapi-check.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["chromium"]);

let env: TestEnv;
let app: ApiApp;
let browser: Browser;
let base: string;

beforeAll(async () => {
  env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:11999"\n`);
  env.daemon.services.broker = new StubBroker([upstream("local", "up", ["llama3.2:1b"])]);
  app = createApp(env.daemon.ctx, { token: () => TOKEN }).listen({ hostname: "127.0.0.1", port: 0 });
  await app.modules;
  base = `http://127.0.0.1:${app.server!.port}`;
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.stop(true);
  env?.cleanup();
});

test("Swagger UI renders every route with nothing loaded from another host", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const foreign: string[] = [];
  const local: string[] = [];
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== "127.0.0.1") {
      foreign.push(url.href);
      return route.abort();
    }
    local.push(url.pathname);
    return route.continue();
  });
  page.on("requestfailed", (r) => {
    if (!r.url().startsWith("data:") && new URL(r.url()).hostname !== "127.0.0.1") foreign.push(r.url());
  });

  await page.goto(`${base}/swagger`);
  await page.waitForSelector(".opblock", { timeout: 30_000 });
  const paths = await page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.getAttribute("data-path") ?? e.textContent ?? ""));
  for (const p of ["/healthz", "/readyz", "/api/v1/status", "/api/v1/upstreams/{name}/check", "/api/v1/tunnel/start", "/api/v1/config", "/api/v1/config/backups/{id}/restore", "/api/v1/version", "/api/v1/events", "/metrics", "/ws"])
    expect(paths).toContain(p);
  expect(await page.locator(".btn.authorize").count()).toBe(1);
  expect(await page.locator(".information-container").innerText()).toContain("cloudtolocalllm-tunnel control API");

  mkdirSync(join(REPO, "artifacts"), { recursive: true });
  await page.screenshot({ path: join(REPO, "artifacts/swagger.png"), fullPage: false });
  expect(local).toContain("/swagger/assets/swagger-ui-bundle.js");
  expect(local).toContain("/swagger/json");
  expect(foreign).toEqual([]);
  await page.close();
}, 60_000);

test("from a dashboard session, Try it out on a change answers 200, not 403 csrf_failed (the page sends the CSRF header)", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const { code } = sessionsFor(env.daemon.ctx).issueCode();
  await page.goto(`${base}/auth?code=${code}`);
  expect(new URL(page.url()).pathname).toBe("/");
  await page.goto(`${base}/swagger`);
  const op = page.locator(".opblock-post", { has: page.locator('.opblock-summary-path[data-path="/api/v1/reconnect"]') });
  await op.waitFor({ timeout: 30_000 });
  await op.locator(".opblock-summary").click();
  await op.locator(".try-out__btn").click();
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/reconnect") && r.request().method() === "POST"),
    op.locator(".execute").click(),
  ]);
  expect({ status: resp.status(), body: resp.status() === 200 ? "" : await resp.text() }).toEqual({ status: 200, body: "" });
  expect(resp.request().headers()["x-csrf-token"]).toBeTruthy();
  await op.locator(".live-responses-table .response-col_status", { hasText: "200" }).waitFor();
  // The page is not cached (it carries the session's token), and a browser without a session gets no token in it.
  const direct = await fetch(`${base}/swagger`);
  expect(direct.headers.get("cache-control")).toBe("no-store");
  expect(await direct.text()).toContain('<meta name="csrf-token" content="">');
  await page.close();
}, 60_000);

test("offline, without a session: Try it out is 401 until the token is given in Authorize, then a read and a change answer 200", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const foreign: string[] = [];
  await page.route("**/*", (route) => {
    if (new URL(route.request().url()).hostname === "127.0.0.1") return route.continue();
    foreign.push(route.request().url());
    return route.abort();
  });
  await page.goto(`${base}/swagger`);
  const execute = async (method: string, path: string) => {
    const op = page.locator(`.opblock-${method.toLowerCase()}`, { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
    await op.waitFor({ timeout: 30_000 });
    if (!(await op.locator(".execute").count())) {
      if (!(await op.locator(".try-out__btn").count())) await op.locator(".opblock-summary").click();
      await op.locator(".try-out__btn").click();
    }
    const [resp] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === path && r.request().method() === method), op.locator(".execute").click()]);
    return { status: resp.status(), authorization: resp.request().headers()["authorization"] ?? null };
  };
  expect(await execute("GET", "/api/v1/config")).toEqual({ status: 401, authorization: null });

  await page.locator(".btn.authorize").first().click();
  const bearer = page.locator(".modal-ux .auth-container", { hasText: "bearer" });
  await bearer.locator("input").fill(TOKEN);
  await bearer.locator("button.authorize").click();
  await page.locator(".modal-ux .btn-done, .modal-ux .close-modal").first().click();

  expect(await execute("GET", "/api/v1/config")).toEqual({ status: 200, authorization: `Bearer ${TOKEN}` });
  // A change with the token needs no CSRF header: the token is not a cookie a page could ride on.
  expect(await execute("POST", "/api/v1/reconnect")).toEqual({ status: 200, authorization: `Bearer ${TOKEN}` });
  // The body the page starts from passes the route's checks (its numbers were the text "string": 422); no gateway runs here: 503.
  expect(await execute("POST", "/api/v1/keys")).toEqual({ status: 503, authorization: `Bearer ${TOKEN}` });
  expect(foreign).toEqual([]);
  await context.close();
}, 60_000);

test("a page on another port of 127.0.0.1 (the same site: the session cookie goes along) cannot frame Swagger UI or the dashboard", async () => {
  // Clickjacking: framed with the owner's session, Swagger UI would carry its CSRF token and run changes on the framer's clicks.
  const context = await browser.newContext();
  const page = await context.newPage();
  const { code } = sessionsFor(env.daemon.ctx).issueCode();
  await page.goto(`${base}/auth?code=${code}`);
  expect(new URL(page.url()).pathname).toBe("/");
  // Any program on the machine (another user's too) may serve such a page on a port of its own.
  const framer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(`<!doctype html><iframe name="swagger" src="${base}/swagger"></iframe><iframe name="dashboard" src="${base}/"></iframe>`, { headers: { "content-type": "text/html" } }),
  });
  try {
    // "load" waits for both frames, whether they show the daemon's documents or the browser's error page.
    await page.goto(`http://127.0.0.1:${framer.port}/`, { waitUntil: "load" });
    const shown: Record<string, string | null> = {};
    for (const name of ["swagger", "dashboard"]) {
      const f = page.frame({ name });
      // A blocked frame holds the browser's error page: no document of the daemon, so no CSRF token to use.
      shown[name] = f ? await f.evaluate(() => document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? null).catch(() => null) : null;
    }
    expect(shown).toEqual({ swagger: null, dashboard: null });
  } finally {
    framer.stop(true);
    await context.close();
  }
}, 60_000);

test("a page on another port of 127.0.0.1 that sets a cookie of the session's name (cookies know no ports) does not sign the user out", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { code } = sessionsFor(env.daemon.ctx).issueCode();
  await page.goto(`${base}/auth?code=${code}`);
  const session = () => page.evaluate(async () => (await fetch("/api/v1/dashboard/session")).status);
  expect(await session()).toBe(200);
  // Longer paths than the session's "/": the browser sends these first.
  const tosser = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(`<!doctype html><script>document.cookie = "c2l_session=tossed; path=/api/v1"; document.cookie = "c2l_session=tossed; path=/swagger";</script>`, { headers: { "content-type": "text/html" } }),
  });
  try {
    await page.goto(`http://127.0.0.1:${tosser.port}/`);
    expect((await context.cookies()).filter((c) => c.name === "c2l_session").length).toBe(3);
    await page.goto(`${base}/swagger`);
    expect(await session()).toBe(200);
    // The Swagger page still carries the session's CSRF token.
    expect(await page.locator('meta[name="csrf-token"]').getAttribute("content")).not.toBe("");
  } finally {
    tosser.stop(true);
    await context.close();
  }
}, 60_000);

test("a page on another port of 127.0.0.1 cannot open /ws or read the API with the user's session cookie, which the browser sends along", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { code } = sessionsFor(env.daemon.ctx).issueCode();
  await page.goto(`${base}/auth?code=${code}`);
  // The same page from the API's own origin opens /ws with the session: the refusal below is the Origin's.
  expect(await page.evaluate((u) => new Promise((res) => { const ws = new WebSocket(u); ws.onopen = () => (ws.close(), res("open")); ws.onerror = () => res("refused"); }), `${base.replace("http", "ws")}/ws`)).toBe("open");
  const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("<!doctype html>", { headers: { "content-type": "text/html" } }) });
  try {
    await page.goto(`http://127.0.0.1:${other.port}/`);
    const tried = await page.evaluate(async (b) => {
      const ws = await new Promise((res) => { const w = new WebSocket(b.replace("http", "ws") + "/ws"); w.onopen = () => (w.close(), res("open")); w.onerror = () => res("refused"); });
      const read = await fetch(b + "/api/v1/config", { credentials: "include" }).then((r) => `read ${r.status}`, () => "read refused");
      const blind = await fetch(b + "/api/v1/config", { credentials: "include", mode: "no-cors" }).then((r) => r.type, () => "refused");
      return { ws, read, blind };
    }, base);
    // A no-cors fetch may go out, but its answer is opaque: the page learns nothing from it.
    expect(tried).toEqual({ ws: "refused", read: "read refused", blind: "opaque" });
  } finally {
    other.stop(true);
    await context.close();
  }
}, 60_000);

test("the control API's document lists 403 csrf_failed on cookie-accepting changes", async () => {
  const doc = (await (await fetch(`${base}/swagger/json`)).json()) as any;
  for (const [path, method] of [["/api/v1/reconnect", "post"], ["/api/v1/tunnel/start", "post"], ["/api/v1/config", "put"]] as const) {
    expect({ path, d: doc.paths[path][method].responses["403"]?.description ?? "" }).toEqual({ path, d: expect.stringContaining("`csrf_failed`") });
  }
  expect(doc.paths["/api/v1/status"].get.responses["403"]).toBeUndefined();
  // A token-only change (minting a dashboard code) never meets the CSRF check.
  expect(doc.paths["/api/v1/dashboard/code"].post.responses["403"]).toBeUndefined();
});

test("the broker's OpenAPI document is served beside the control API's and picked from Swagger UI's spec list", async () => {
  const r = await fetch(`${base}/api/v1/docs/broker.json`);
  expect(r.status).toBe(200);
  const doc = (await r.json()) as any;
  expect(openApiProblems(doc)).toEqual([]);
  expect(doc.servers[0].url).toBe("http://127.0.0.1:11999");
  const routes = ["/api/chat", "/api/generate", "/api/embed", "/api/tags", "/api/ps", "/api/show", "/api/version", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens"];
  expect(Object.keys(doc.paths).sort()).toEqual([...routes].sort());

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${base}/swagger`);
  const select = page.locator(".topbar select");
  await select.waitFor({ timeout: 30_000 });
  expect(await select.locator("option").allTextContents()).toEqual(["Control API", "Broker (Ollama and OpenAI API)"]);
  await select.selectOption({ label: "Broker (Ollama and OpenAI API)" });
  await page.locator('.opblock-summary-path[data-path="/v1/chat/completions"]').waitFor({ timeout: 10_000 });
  const paths = await page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.getAttribute("data-path") ?? ""));
  expect([...paths].sort()).toEqual([...routes].sort());
  expect(await page.locator(".information-container").innerText()).toContain("broker");
  // The broker is another origin: the page's CSP lets it be called for Try it out, and nothing else.
  const csp = (await fetch(`${base}/swagger`)).headers.get("content-security-policy");
  expect(csp).toContain("connect-src 'self' http://127.0.0.1:11999;");
  await page.close();
}, 60_000);

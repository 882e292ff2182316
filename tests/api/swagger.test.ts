// Swagger UI works offline: headless Chromium loads /swagger with every non-127.0.0.1 request blocked and finds the routes rendered.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { REPO } from "../helpers/daemon.ts";
import { StubBroker, TOKEN, testEnv, upstream, type TestEnv } from "./stubs.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["chromium"]);

let env: TestEnv;
let app: ApiApp;
let browser: Browser;
let base: string;

beforeAll(async () => {
  env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n`);
  env.daemon.services.broker = new StubBroker([upstream("local", "up", ["llama3.2:1b"])]);
  app = createApp(env.daemon.ctx, { token: () => TOKEN }).listen({ hostname: "127.0.0.1", port: 0 });
  await app.modules;
  base = `http://127.0.0.1:${app.server!.port}`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
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

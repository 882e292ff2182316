// What others write reaches the dashboard as text, never as markup: a hostile upstream's model names and version, and a
// caller's model name and path in the inspector, hold HTML that would run script in the page. Script there could read
// the page's CSRF token and change the config (point the tunnel or an upstream with a stored secret elsewhere), so each
// is looked for in Chromium: shown as written, no element made of it, nothing ran.
import { expect } from "bun:test";
import type { Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { TEST_DAEMON_TOML, apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { openDashboard, type DashboardBrowser } from "../helpers/dashboard-browser.ts";

const { afterAll, beforeAll, test } = requireTools(["chromium"]);

/** Each sets a mark on window if the browser ever treats it as markup. */
const MODEL = `<img src=x onerror="window.__pwned='model'">:latest`;
const VERSION = `<script>window.__pwned='version'</script>0.12`;
const ASKED = `<svg onload="window.__pwned='inspector'"></svg>`;

let fake: FakeOllama;
let daemon: DaemonProc;
let browser: DashboardBrowser;
let page: Page;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b", MODEL], version: VERSION });
  daemon = await startDaemon({
    config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n[alerts]\nnotifications = false\n`,
    waitFor: ["api", "broker"],
  });
  await untilUpstreamsUp(daemon, await apiToken(daemon), 1);
  // A caller's request whose model name is markup: the inspector keeps it.
  const r = await fetch(`${daemon.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: ASKED, messages: [{ role: "user", content: "hi" }], stream: false }) });
  await r.text();
  browser = await openDashboard(daemon);
  page = browser.page;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

test("an upstream's model names and version and a caller's model name are shown as text in the overview and the inspector; no element is made of them, no script runs", async () => {
  await page.locator("#tab-overview").click();
  await page.getByText(VERSION, { exact: false }).first().waitFor({ timeout: 10_000 });
  await page.locator("details:has(ul.models) summary").first().click();
  await page.getByText(MODEL, { exact: false }).first().waitFor({ timeout: 10_000 });
  await page.locator("#tab-requests").click();
  await page.getByText(ASKED, { exact: false }).first().waitFor({ timeout: 10_000 });
  const found = await page.evaluate(() => ({
    pwned: (window as unknown as { __pwned?: string }).__pwned ?? null,
    // Elements the strings would have made, had they been parsed.
    made: document.querySelectorAll('img[src="x"], svg[onload], script:not([src])').length,
  }));
  expect(found).toEqual({ pwned: null, made: 0 });
}, 45_000);

// The dashboard when things go wrong or grow: a large inspector ring opened late, and failing Gateway calls, in Chromium.
import { expect } from "bun:test";
import type { Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { TEST_DAEMON_TOML, apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { openDashboard, type DashboardBrowser } from "../helpers/dashboard-browser.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

/** Above the 1,000 the page used to ask for, below the API's 10,000. */
const RING = 1300;

let fake: FakeOllama;
let daemon: DaemonProc;
let browser: DashboardBrowser;
let page: Page;
let token: string;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b"] });
  daemon = await startDaemon({
    config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n[dashboard]\ninspector_size = ${RING}\n[alerts]\nnotifications = false\n`,
    waitFor: ["api", "broker"],
  });
  token = await apiToken(daemon);
  await untilUpstreamsUp(daemon, token, 1);
  browser = await openDashboard(daemon);
  page = browser.page;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

describe("the dashboard when things go wrong or grow", () => {
  test("a ring of more than 1,000 requests: the Requests tab opened afterwards shows every one the daemon keeps", async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < RING) {
          next++;
          const r = await fetch(`${daemon.urls.broker}/api/tags`);
          await r.arrayBuffer();
        }
      }),
    );
    const kept = (await (await fetch(`${daemon.urls.api}/api/v1/requests?limit=10000`, { headers: { authorization: `Bearer ${token}` } })).json()) as { requests: unknown[] };
    expect(kept.requests.length).toBe(RING);
    await page.locator("#tab-requests").click();
    await page.locator("#requests-count", { hasText: /^Showing/ }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#requests-count").textContent()).toBe(`Showing ${RING} of ${RING} requests`);
  }, 60_000);

  test("a Gateway call that fails (the daemon gone, a proxy dropping it) says so in the page, and a retry that works clears it", async () => {
    await page.route("**/api/v1/usage*", (route) => route.abort("connectionrefused"));
    await page.locator("#tab-gateway").click();
    const error = page.locator("#gateway-error");
    await error.filter({ hasText: "not answering" }).waitFor({ timeout: 10_000 });
    expect(await error.getAttribute("role")).toBe("alert");
    await page.unroute("**/api/v1/usage*");
    await page.locator("#usage-refresh").click();
    await error.filter({ hasText: /^$/ }).waitFor({ state: "attached", timeout: 10_000 });
    expect(await page.locator("#usage-totals").textContent()).toStartWith("Total:");
    // Refresh itself failing is shown too (it used to be an unhandled rejection in the console only).
    await page.route("**/api/v1/usage*", (route) => route.abort("connectionrefused"));
    await page.locator("#usage-refresh").click();
    await error.filter({ hasText: "not answering" }).waitFor({ timeout: 10_000 });
    await page.unroute("**/api/v1/usage*");
  }, 30_000);
});

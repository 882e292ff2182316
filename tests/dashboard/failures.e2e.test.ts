// The dashboard when things go wrong or grow: a large inspector ring opened late, and failing Gateway calls, in Chromium.
import { expect } from "bun:test";
import { appendFileSync } from "node:fs";
import type { Page, WebSocketRoute } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { TEST_DAEMON_TOML, apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { openDashboard, type DashboardBrowser } from "../helpers/dashboard-browser.ts";
import { until } from "../helpers/until.ts";

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
  test("a ring of more than 1,000 requests: the Requests tab opened afterwards holds every one the daemon keeps, and draws a bounded number", async () => {
    // The oldest is the only /api/ps: found by the filter only if the page fetched the whole ring.
    await (await fetch(`${daemon.urls.broker}/api/ps`)).arrayBuffer();
    let next = 1;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < RING) {
          next++;
          const r = await fetch(`${daemon.urls.broker}/api/tags`);
          await r.arrayBuffer();
        }
      }),
    );
    const kept = (await (await fetch(`${daemon.urls.api}/api/v1/requests?limit=10000`, { headers: { authorization: `Bearer ${token}` } })).json()) as { requests: { path: string }[] };
    expect(kept.requests.length).toBe(RING);
    expect(kept.requests.at(-1)!.path).toBe("/api/ps");
    await page.locator("#tab-requests").click();
    await page.locator("#requests-count", { hasText: /^Showing/ }).waitFor({ timeout: 10_000 });
    // Drawing all 10,000 a ring may hold froze the page for seconds on every redraw: the newest 500 are drawn.
    expect(await page.locator("#requests-count").textContent()).toBe(`Showing the newest 500 of ${RING} matching requests (${RING} kept): filter to reach older ones`);
    expect(await page.locator("#requests-body tr").count()).toBe(500);
    await page.locator('#requests-filters input[name="text"]').fill("/api/ps");
    await page.locator("#requests-count", { hasText: `Showing 1 of ${RING} requests` }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#requests-body tr").allTextContents()).toEqual([expect.stringContaining("/api/ps")]);
    await page.locator('#requests-filters input[name="text"]').fill("");
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

  test("a key name taken, a key revoked elsewhere meanwhile: the page names the problem, and the list is current after", async () => {
    const asOwner = (method: string, path: string, body?: unknown) =>
      fetch(`${daemon.urls.api}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
    expect((await asOwner("POST", "/api/v1/keys", { name: "taken" })).status).toBe(201);
    await page.locator("#tab-gateway").click();
    await page.locator('#key-form input[name="name"]').fill("taken");
    await page.locator("#key-create").click();
    await page.locator("#key-status", { hasText: 'a key named "taken" exists already' }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#key-created").isHidden()).toBe(true);
    // Another tab (here the API) revokes it; this page still lists it and its Revoke says what happened.
    await page.locator('#keys-body tr[data-key="taken"]').waitFor({ timeout: 10_000 });
    expect((await asOwner("DELETE", "/api/v1/keys/taken")).status).toBe(204);
    await page.locator('#keys-body tr[data-key="taken"] button').click();
    await page.locator("#key-status", { hasText: 'no key named "taken"' }).waitFor({ timeout: 10_000 });
    await page.locator('#keys-body tr[data-key="taken"]').waitFor({ state: "detached", timeout: 10_000 });
  }, 30_000);

  test("a feed gone silent without a close (a laptop asleep, a proxy dropping it): the page stops saying Live, reconnects and catches up", async () => {
    // The page's /ws goes through the test, which can stop passing the daemon's messages on without closing anything.
    /** Connections up to this many go silent; later ones deliver. */
    let silencedUpTo = 0;
    const pages: WebSocketRoute[] = [];
    await page.routeWebSocket("**/ws", (ws) => {
      pages.push(ws);
      const server = ws.connectToServer();
      const mine = pages.length;
      server.onMessage((m) => {
        if (mine > silencedUpTo) ws.send(m);
      });
    });
    await page.reload();
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    await page.locator("#tab-requests").click();
    await page.locator("#requests-count", { hasText: /^Showing/ }).waitFor({ timeout: 10_000 });
    const before = pages.length;
    silencedUpTo = before;
    // Meanwhile a request finishes: the silent socket never delivers it.
    const r = await fetch(`${daemon.urls.broker}/api/tags`);
    await r.arrayBuffer();
    const newest = ((await (await fetch(`${daemon.urls.api}/api/v1/requests?limit=1`, { headers: { authorization: `Bearer ${token}` } })).json()) as { requests: { id: string }[] }).requests[0]!.id;
    // The catch-up after the reconnect asks for the gap only, not the whole ring again.
    const catchUp = page.waitForResponse((res) => new URL(res.url()).pathname === "/api/v1/requests", { timeout: 30_000 });
    await page.locator("#live:not([data-state=live])").waitFor({ timeout: 15_000 });
    // A new connection, which delivers: back to Live (its snapshot and ticks), with the missed request listed once.
    await until(() => pages.length > before, 15_000, "the page's next connection");
    await page.locator("#live[data-state=live]").waitFor({ timeout: 15_000 });
    await page.locator(`#requests-body tr[data-request="${newest}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`#requests-body tr[data-request="${newest}"]`).count()).toBe(1);
    expect(new URL((await catchUp).url()).searchParams.get("after")).toBeTruthy();
    expect(((await (await catchUp).json()) as { requests: { id: string }[] }).requests.map((x) => x.id)).toEqual([newest]);
    // And it stays Live: the new connection's ticks keep the watchdog quiet (one connection more at most, not a loop).
    await page.waitForTimeout(7000);
    expect(await page.locator("#live").getAttribute("data-state")).toBe("live");
    expect(pages.length).toBe(before + 1);
    await page.unrouteAll({ behavior: "ignoreErrors" });
  }, 45_000);
});

describe("the daemon out of reach while the page is open", () => {
  test("the page says so, shows no stale quality, and once the feed is back shows the daemon's again", async () => {
    // Every /ws connection is refused at once while `away` (what a stopped daemon or a dead proxy gives the page).
    let away = false;
    const open: WebSocketRoute[] = [];
    await page.routeWebSocket("**/ws", (ws) => {
      if (away) return void ws.close({ code: 1011, reason: "away" });
      open.push(ws);
      ws.connectToServer();
    });
    await page.reload();
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    await page.locator("#tab-overview").click();
    const quality = page.locator("#overall-quality");
    await quality.filter({ hasText: /^(excellent|good)$/ }).waitFor({ timeout: 10_000 });
    const was = await quality.textContent();
    away = true;
    for (const ws of open.splice(0)) await ws.close({ code: 1011, reason: "away" });
    await page.locator("#banners", { hasText: "Lost the connection to the daemon" }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#live").getAttribute("data-state")).not.toBe("live");
    // The last quality heard is not asserted while nothing is heard.
    expect(await quality.textContent()).toBe("—");
    expect(await quality.getAttribute("aria-label")).toBe("overall quality: unknown while disconnected");
    away = false;
    await page.locator("#live[data-state=live]").waitFor({ timeout: 15_000 });
    await quality.filter({ hasText: was! }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#banners").textContent()).not.toContain("Lost the connection");
    await page.unrouteAll({ behavior: "ignoreErrors" });
  }, 45_000);
});

describe("a config changed while the feed was cut", () => {
  test("once the feed is back, the Configuration form shows the file as it is now, not as it was", async () => {
    let away = false;
    const open: WebSocketRoute[] = [];
    await page.routeWebSocket("**/ws", (ws) => {
      if (away) return void ws.close({ code: 1011, reason: "away" });
      open.push(ws);
      ws.connectToServer();
    });
    await page.reload();
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    await page.locator("#tab-config").click();
    const timeout = page.locator('[data-path="health.timeout"]');
    await page.waitForFunction(() => (document.querySelector('[data-path="health.timeout"]') as HTMLInputElement | null)?.value, undefined, { timeout: 10_000 });
    expect(await timeout.inputValue()).not.toBe("7s");
    away = true;
    for (const ws of open.splice(0)) await ws.close({ code: 1011, reason: "away" });
    await page.locator("#live:not([data-state=live])").waitFor({ timeout: 10_000 });
    // A hand edit the daemon applies while the page hears nothing (its config.reloaded is lost with the feed).
    appendFileSync(daemon.configFile, '[health]\ntimeout = "7s"\n');
    await until(async () => {
      const r = (await (await fetch(`${daemon.urls.api}/api/v1/config`, { headers: { authorization: `Bearer ${token}` } })).json()) as { config: { health: { timeout: string } } };
      return r.config.health.timeout === "7s";
    }, 10_000, "the daemon to apply the hand edit");
    away = false;
    await page.locator("#live[data-state=live]").waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => (document.querySelector('[data-path="health.timeout"]') as HTMLInputElement).value === "7s", undefined, { timeout: 10_000 });
    await page.unrouteAll({ behavior: "ignoreErrors" });
  }, 45_000);
});

describe("the viewer's time zone", () => {
  test("a browser in Kathmandu (UTC+5:45) reads the charts' clock ticks and the inspector's times in its own zone", async () => {
    const zone = "Asia/Kathmandu";
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send("Emulation.setTimezoneOverride", { timezoneId: zone });
    await page.reload();
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    const hhmm = (t: number) => new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(t);
    await page.locator("#tab-overview").click();
    // Charts are drawn while on screen: scrolled to, as a user looks at them.
    await page.locator('[data-charts="local"]').scrollIntoViewIfNeeded();
    const ticks = page.locator('[data-charts="local"] svg text[data-axis="x"][visibility="visible"]').first();
    await ticks.waitFor({ timeout: 10_000 });
    const t = Number(await ticks.getAttribute("data-t"));
    expect(await ticks.textContent()).toBe(hhmm(t));
    // Ticks fall on whole 5 minutes of the viewer's clock, though its offset is not whole hours.
    expect(Number(hhmm(t).slice(3)) % 5).toBe(0);
    await (await fetch(`${daemon.urls.broker}/api/ps`)).arrayBuffer();
    await page.locator("#tab-requests").click();
    const row = page.locator("#requests-body tr").first();
    await row.waitFor({ timeout: 10_000 });
    const id = await row.getAttribute("data-request");
    const kept = (await (await fetch(`${daemon.urls.api}/api/v1/requests?limit=10000`, { headers: { authorization: `Bearer ${token}` } })).json()) as { requests: { id: string; time: string }[] };
    const time = kept.requests.find((x) => x.id === id)!.time;
    const clock = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(time));
    expect(await row.locator("td").first().textContent()).toBe(clock);
    await cdp.detach();
  }, 30_000);
});

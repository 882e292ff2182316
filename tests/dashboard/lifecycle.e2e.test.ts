// The open dashboard through what happens to a real daemon in a day, in Chromium: a reload that removes the upstream on
// screen, a daemon that hangs (its connections accepted, never answered) and comes back, a token rotated. Each time the
// page says what happened, comes back by itself when it can (no reload), and its own code logs no error.
import { expect } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { REPO, TEST_DAEMON_TOML, apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { openDashboard, type DashboardBrowser } from "../helpers/dashboard-browser.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

let fake: FakeOllama;
let daemon: DaemonProc;
let browser: DashboardBrowser;
let page: Page;
/** /ws connections the page opened. */
let sockets = 0;
/** Console errors and warnings, and uncaught errors, of the page. */
const complaints: string[] = [];
/** Chromium's own line for a connection or request that failed (a refused /ws, a 401): the network's, not the page's. */
const NETWORK_LINE = /^(WebSocket connection to '[^']+' failed|Failed to load resource: )/;
const pageComplaints = () => complaints.filter((c) => !NETWORK_LINE.test(c.replace(/^\w+: /, "")));
/** Records every banner the page shows, in order (one shown and gone between two looks is still seen). */
const WATCH_BANNERS = () => {
  const w = window as unknown as { __banners: string[] };
  w.__banners = [];
  new MutationObserver(() => {
    for (const b of document.querySelectorAll("#banners > *")) if (w.__banners.at(-1) !== b.textContent) w.__banners.push(b.textContent ?? "");
  }).observe(document.querySelector("#banners")!, { subtree: true, childList: true, characterData: true });
};
const config = (names: string[]) => `${TEST_DAEMON_TOML}${names.map((n) => `[[upstreams]]\nname = "${n}"\nurl = "${fake.url}"\n`).join("")}[alerts]\nnotifications = false\n`;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b"] });
  daemon = await startDaemon({ config: config(["a", "b"]), waitFor: ["api", "broker"] });
  await untilUpstreamsUp(daemon, await apiToken(daemon), 2);
  browser = await openDashboard(daemon);
  page = browser.page;
  page.on("console", (m) => void (m.type() === "error" || m.type() === "warning" ? complaints.push(`${m.type()}: ${m.text()}`) : 0));
  page.on("pageerror", (e) => complaints.push(`pageerror: ${e.message}`));
  page.on("websocket", () => void sockets++);
  await page.evaluate(WATCH_BANNERS);
}, 60_000);

afterAll(async () => {
  // A test that failed while the daemon was stopped must not leave it so.
  daemon?.proc.kill("SIGCONT");
  await browser?.close();
  await daemon?.stop();
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

const banners = () => page.evaluate(() => (window as unknown as { __banners: string[] }).__banners.splice(0));

describe("the open dashboard through a daemon's day", () => {
  test("a reload that removes the upstream on screen: its card and charts go, the page stays live and says it reloaded", async () => {
    await page.locator("#tab-overview").click();
    await page.locator('[data-charts="b"]').scrollIntoViewIfNeeded();
    await page.locator('[data-charts="b"] text[data-axis="x"][visibility="visible"]').first().waitFor({ timeout: 10_000 });
    writeFileSync(daemon.configFile, config(["a"]));
    await page.locator("#toast", { hasText: "Configuration reloaded." }).waitFor({ timeout: 15_000 });
    await page.locator('article[data-upstream="b"]').waitFor({ state: "detached", timeout: 10_000 });
    await page.locator('[data-charts="b"]').waitFor({ state: "detached", timeout: 10_000 });
    // The one left is still drawn live, and nothing is stuck on the removed one.
    await page.locator('[data-charts="a"]').scrollIntoViewIfNeeded();
    const d = await page.locator('[data-charts="a"] path.line.rps').getAttribute("d");
    await page.waitForFunction((was) => document.querySelector('[data-charts="a"] path.line.rps')?.getAttribute("d") !== was, d, { timeout: 10_000 });
    expect(await page.locator("#live").getAttribute("data-state")).toBe("live");
    expect(await banners()).toEqual([]);
    expect(complaints).toEqual([]);
  }, 45_000);

  test("a daemon that hangs (its connections accepted, never answered): the page says it lost the daemon, a call pressed meanwhile says it is not answering, and the page is live again by itself once it answers", async () => {
    // SIGSTOP: the kernel still accepts connections on its port, nothing answers them (a hung daemon, a path dropping packets).
    daemon.proc.kill("SIGSTOP");
    try {
      // A button pressed meanwhile: its call is never answered either.
      const check = page.locator('article[data-upstream="a"] .actions button');
      await check.click();
      // The feed goes silent, the page tries again, and that try is never answered: it must not wait on it for ever.
      await page.locator("#banners", { hasText: "Lost the connection to the daemon" }).waitFor({ timeout: 40_000 });
      expect(await page.locator("#live").getAttribute("data-state")).not.toBe("live");
      expect(await page.locator("#overall-quality").textContent()).toBe("—");
      // Nor on the button's call (the page's calls give up after 30 s): it says so, and the button works again.
      await page.locator("#toast.toast-error", { hasText: "The daemon is not answering" }).waitFor({ timeout: 45_000 });
      expect(await check.isEnabled()).toBe(true);
    } finally {
      daemon.proc.kill("SIGCONT");
    }
    await page.locator("#live[data-state=live]").waitFor({ timeout: 30_000 });
    await page.locator("#overall-quality", { hasText: /^(excellent|good)$/ }).waitFor({ timeout: 10_000 });
    await page.locator("#banners", { hasText: "Lost the connection" }).waitFor({ state: "detached", timeout: 10_000 });
    expect(await page.locator("#banners").textContent()).toBe("");
    expect(pageComplaints()).toEqual([]);
    await banners();
  }, 120_000);

  test("the API token rotated: the page says its session ended and how to get back in, and never that the daemon is lost nor knocks again with the session", async () => {
    const before = sockets;
    await banners();
    rmSync(join(daemon.home, ".config/cloudtolocalllm/api-token"));
    daemon.proc.kill("SIGHUP");
    await page.locator("#banners [data-banner=session]", { hasText: "This dashboard session has ended" }).waitFor({ timeout: 20_000 });
    expect(await page.locator("#live").textContent()).toBe("Signed out");
    expect(await page.locator("#overall-quality").textContent()).toBe("—");
    // The daemon closed the feed for the session's sake (1008): it is there, so "Lost the connection… retrying" would be
    // wrong, and so would a /ws knocking with a session it has ended (the page asks the session route once instead).
    const said = await banners();
    expect(said.length).toBe(1);
    expect(said[0]).toStartWith("This dashboard session has ended. Run `cloudtolocalllm-tunnel dashboard`");
    await page.waitForTimeout(2500);
    expect(sockets).toBe(before);
    expect(pageComplaints()).toEqual([]);
  }, 45_000);

  test("the daemon stopped, then started again: the page says it lost the daemon, then that its session ended (sessions live in the daemon's memory) and how to get back in", async () => {
    // Back in with a fresh link (the token rotated above).
    const link = Bun.spawnSync([process.execPath, join(REPO, "src/main.ts"), "dashboard", "--print-url", "--url", daemon.urls.api!], { env: daemon.env, stdout: "pipe", stderr: "pipe" });
    expect(link.exitCode).toBe(0);
    await page.goto(link.stdout.toString().trim());
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    await page.evaluate(WATCH_BANNERS);
    complaints.length = 0;
    const port = new URL(daemon.urls.api!).port;
    await daemon.stop();
    await page.locator("#banners", { hasText: "Lost the connection to the daemon" }).waitFor({ timeout: 20_000 });
    // The daemon's last word: no promise that this page comes back by itself (a restarted daemon does not know it).
    const said = await banners();
    expect(said).toContain(
      "The daemon is shutting down, and this dashboard session ends with it. Once the daemon runs again, run `cloudtolocalllm-tunnel dashboard` (or the tray's Open dashboard) to open it again.",
    );
    expect(said.join("\n")).not.toContain("reconnects when it is back");
    expect(await page.locator("#overall-quality").textContent()).toBe("—");
    daemon = await startDaemon({ home: daemon.home, config: config(["a"]).replace('listen = "127.0.0.1:0"', `listen = "127.0.0.1:${port}"`), waitFor: ["api", "broker"] });
    await page.locator("#banners [data-banner=session]", { hasText: "This dashboard session has ended" }).waitFor({ timeout: 30_000 });
    expect(await page.locator("#live").textContent()).toBe("Signed out");
    // The lost connection is no longer claimed once the page knows the real reason.
    expect(await page.locator("#banners").textContent()).not.toContain("Lost the connection");
    expect(pageComplaints()).toEqual([]);
  }, 90_000);
});

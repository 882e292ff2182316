// The dashboard's TOML editor against a hand edit it never heard of (its /ws feed quiet): the save is refused, not a silent overwrite.
import { expect } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { requireTools } from "../helpers/requires.ts";
import { TEST_DAEMON_TOML, apiToken, removeHome, startDaemon } from "../helpers/daemon.ts";
import { openDashboard } from "../helpers/dashboard-browser.ts";
import { until } from "../helpers/until.ts";

const { test } = requireTools(["chromium"]);

test("a save from the TOML editor carries the file's ETag: a hand edit made while the page heard nothing is kept (412), the page says so", async () => {
  const d = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "u"\nurl = "http://127.0.0.1:9"\n`, waitFor: ["api", "broker"] });
  const b = await openDashboard(d).catch(async (e) => (await d.stop(), removeHome(d.home), Promise.reject(e)));
  try {
    const { page, context } = b;
    // The page's /ws feed through the test, which can keep the config events from it (a change the page never heard of:
    // made while its feed was briefly away). The rest flows, so the page's silence watchdog (6 s) does not reconnect it
    // and reload the file on a slow machine.
    let quiet = false;
    await context.routeWebSocket(
      (u) => u.pathname === "/ws",
      (ws) => {
        const server = ws.connectToServer();
        server.onMessage((m) => void ((quiet && String(m).includes('"type":"config.')) || ws.send(m)));
      },
    );
    await page.reload();
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    await page.locator("#tab-config").click();
    await page.waitForFunction(() => (document.querySelector("#toml-editor") as HTMLTextAreaElement).value.includes("[[upstreams]]"), undefined, { timeout: 5000 });
    quiet = true;
    const hand = readFileSync(d.configFile, "utf8") + '[alerts]\ncooldown = "7m"\n';
    writeFileSync(d.configFile, hand);
    const token = await apiToken(d);
    await until(async () => ((await (await fetch(`${d.urls.api}/api/v1/config`, { headers: { authorization: `Bearer ${token}` } })).json()) as { config: { alerts: { cooldown: string } } }).config.alerts.cooldown === "7m", 5000, "the hand edit applied");
    await page.locator("#toml-editor").press("End");
    await page.locator("#toml-editor").pressSequentially("\n# mine");
    await page.locator("#toml-save").click();
    await page.locator("#toml-status", { hasText: "changed since" }).waitFor({ timeout: 5000 });
    expect(readFileSync(d.configFile, "utf8")).toBe(hand);
    // Told, the user may still replace it: the second save goes through.
    await page.locator("#toml-save").click();
    // (Not "Saved" alone: Playwright's hasText ignores case, and "Not saved: …" is on show until the save begins.)
    await page.locator("#toml-status", { hasText: "Saved. The daemon applied" }).waitFor({ timeout: 5000 });
    expect(readFileSync(d.configFile, "utf8")).toContain("# mine");
  } finally {
    await b.close();
    await d.stop();
    removeHome(d.home);
  }
}, 60_000);

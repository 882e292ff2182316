// The overview with 200 upstreams in Chromium: only the charts on screen are redrawn by the live ticks; one scrolled to is
// drawn then, up to date. Counted, not timed: a MutationObserver counts every change made to each upstream's charts, and
// the page's own IntersectionObserver says which rows are far off screen.
import { expect } from "bun:test";
import type { Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { TEST_DAEMON_TOML, apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { openDashboard, type DashboardBrowser } from "../helpers/dashboard-browser.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, test } = requireTools(["chromium"]);

const N = 200;
const name = (i: number) => `u${String(i).padStart(3, "0")}`;

let fake: FakeOllama;
let daemon: DaemonProc;
let browser: DashboardBrowser;
let page: Page;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b"] });
  const ups = Array.from({ length: N }, (_, i) => `[[upstreams]]\nname = "${name(i)}"\nurl = "${fake.url}"\n`).join("");
  daemon = await startDaemon({ config: `${TEST_DAEMON_TOML}${ups}[health]\ninterval = "60s"\n[alerts]\nnotifications = false\n`, waitFor: ["api", "broker"] });
  await untilUpstreamsUp(daemon, await apiToken(daemon), N, 30_000);
  browser = await openDashboard(daemon);
  page = browser.page;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  await fake?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

interface Counts {
  /** Mutation batches per upstream's chart row (one a redraw). */
  redraws: Record<string, number>;
  /** Rows the observer has seen within 300 px of the viewport at any time since counting began. */
  near: string[];
}

test("200 upstreams: the live ticks redraw only the charts on screen; a chart scrolled to is drawn then, up to date", async () => {
  await page.locator("#tab-overview").click();
  await page.waitForFunction((n) => document.querySelectorAll("#charts [data-charts]").length === n, N, { timeout: 20_000 });
  // The middle of the list on screen: rows above and below it are far away.
  await page.locator(`[data-charts="${name(100)}"]`).scrollIntoViewIfNeeded();
  await page.evaluate(() => {
    const w = window as unknown as { __counts: Counts };
    w.__counts = { redraws: {}, near: [] };
    const near = new Set<string>();
    // Wider than any margin the page may draw ahead with: a row counted as far never came within 300 px.
    const io = new IntersectionObserver(
      (entries) => {
        for (const e of entries) if (e.isIntersecting) near.add((e.target as HTMLElement).dataset.charts!);
        w.__counts.near = [...near];
      },
      { rootMargin: "300px 0px" },
    );
    for (const row of document.querySelectorAll<HTMLElement>("#charts [data-charts]")) io.observe(row);
    new MutationObserver((records) => {
      const rows = new Set<string>();
      for (const r of records) {
        const row = (r.target instanceof Element ? r.target : r.target.parentElement)?.closest<HTMLElement>("[data-charts]");
        if (row) rows.add(row.dataset.charts!);
      }
      for (const row of rows) w.__counts.redraws[row] = (w.__counts.redraws[row] ?? 0) + 1;
    }).observe(document.querySelector("#charts")!, { subtree: true, attributes: true, childList: true, characterData: true });
  });
  const counts = () => page.evaluate(() => (window as unknown as { __counts: Counts }).__counts);
  // The row on screen stays live: redrawn by several ticks (one a second).
  await until(async () => ((await counts()).redraws[name(100)] ?? 0) >= 3, 20_000, "the row on screen to be redrawn by 3 ticks");
  const seen = await counts();
  expect(seen.near).toContain(name(100));
  const far = Array.from({ length: N }, (_, i) => name(i)).filter((n) => !seen.near.includes(n));
  // Most rows are far off screen, and no tick touched any of them.
  expect(far.length).toBeGreaterThan(N / 2);
  expect(far.filter((n) => seen.redraws[n]).slice(0, 5)).toEqual([]);

  // A row far below, scrolled to: drawn at once with the samples heard meanwhile (its line is not empty).
  const last = name(N - 1);
  expect(far).toContain(last);
  await page.locator(`[data-charts="${last}"]`).scrollIntoViewIfNeeded();
  await until(async () => ((await counts()).redraws[last] ?? 0) >= 1, 10_000, "the row scrolled to to be drawn");
  await page.waitForFunction((n) => !!document.querySelector(`[data-charts="${n}"] path.line.rps`)?.getAttribute("d"), last, { timeout: 10_000 });
  // And it is live from then on.
  const drawn = (await counts()).redraws[last]!;
  await until(async () => ((await counts()).redraws[last] ?? 0) > drawn, 10_000, "the row scrolled to to follow the next tick");
}, 90_000);

test("200 upstreams: a tick that changes nothing on a card writes nothing to it (no class, label or flag written again)", async () => {
  await page.evaluate(() => {
    const w = window as unknown as { __cards: { written: string[]; changed: string[]; ticks: number } };
    const written = new Set<string>();
    const changed = new Set<string>();
    w.__cards = { written: [], changed: [], ticks: 0 };
    new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target instanceof Element ? r.target : r.target.parentElement;
        const card = el?.closest<HTMLElement>("article[data-upstream]")?.dataset.upstream;
        if (!card) continue;
        // A state or quality that did change may rightly write its class and label.
        if (r.type === "attributes") written.add(card);
        else if (el!.closest(".badge")) changed.add(card);
      }
      w.__cards.written = [...written];
      w.__cards.changed = [...changed];
    }).observe(document.querySelector("#upstreams")!, { subtree: true, attributes: true, childList: true, characterData: true });
    // Ticks counted by the redraws of the chart row on screen.
    new MutationObserver(() => w.__cards.ticks++).observe(document.querySelector("#charts [data-charts]:last-child")!, { subtree: true, attributes: true });
  });
  const cards = () => page.evaluate(() => (window as unknown as { __cards: { written: string[]; changed: string[]; ticks: number } }).__cards);
  await until(async () => (await cards()).ticks >= 3, 20_000, "3 ticks");
  const seen = await cards();
  expect(seen.written.filter((n) => !seen.changed.includes(n)).slice(0, 5)).toEqual([]);
}, 60_000);

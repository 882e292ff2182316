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
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, test } = requireTools(["chromium"]);

/** What the page's console and uncaught errors said: nothing is expected. */
const complaints: string[] = [];

/** Each sets a mark on window if the browser ever treats it as markup. */
const MODEL = `<img src=x onerror="window.__pwned='model'">:latest`;
const VERSION = `<script>window.__pwned='version'</script>0.12`;
const ASKED = `<svg onload="window.__pwned='inspector'"></svg>`;
/** A thinking model's reasoning, kept in the captured answer's body (no quotes: the body shows them JSON-escaped). */
const THOUGHT = `<img src=x onerror=window.__pwned=2>`;
/** What a caller sends as Ollama's think, kept in the captured request's body. */
const THINK = `<svg onload=window.__pwned=3></svg>`;
/** A model no upstream has: the upstream's 404 quotes it in its error. */
const MISSING = `<img src=x onerror="window.__pwned='error'">:1b`;

let fake: FakeOllama;
/** A vLLM serving a thinking model. */
let thinker: FakeOllama;
let daemon: DaemonProc;
let browser: DashboardBrowser;
let page: Page;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b", MODEL], version: VERSION });
  thinker = await startFakeOllama({ kind: "vllm", models: ["thinker:1b"], reasoning: THOUGHT });
  daemon = await startDaemon({
    config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n[[upstreams]]\nname = "think"\nurl = "${thinker.url}"\nkind = "vllm"\n[[upstreams]]\nname = "off"\nurl = "${fake.url}"\nenabled = false\n[dashboard]\ncapture_bodies = true\n[alerts]\nnotifications = false\n`,
    waitFor: ["api", "broker"],
  });
  await until(async () => {
    const st = (await (await fetch(`${daemon.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${await apiToken(daemon)}` } })).json()) as { name: string; state: string }[];
    return ["local", "think"].every((n) => st.find((u) => u.name === n)?.state === "up");
  }, 10_000, "local and think up");
  // A caller's request whose model name is markup: the inspector keeps it.
  const r = await fetch(`${daemon.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: ASKED, messages: [{ role: "user", content: "hi" }], stream: false }) });
  await r.text();
  // A thinking model's answer (its reasoning is markup) to a request whose think is markup, bodies captured.
  const t = await fetch(`${daemon.urls.broker}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "thinker:1b", think: THINK, messages: [{ role: "user", content: "hi" }], stream: false }) });
  await t.text();
  browser = await openDashboard(daemon);
  page = browser.page;
  page.on("console", (m) => void (m.type() === "error" || m.type() === "warning" ? complaints.push(`${m.type()}: ${m.text()}`) : 0));
  page.on("pageerror", (e) => complaints.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => void (complaints.push(`dialog: ${d.message()}`), d.dismiss()));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  await fake?.stop();
  await thinker?.stop();
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

/** Set by any of the strings above if the browser ever treats one as markup; and the elements they would make. */
const marks = () =>
  page.evaluate(() => ({
    pwned: (window as unknown as { __pwned?: unknown }).__pwned ?? null,
    made: document.querySelectorAll('img[src="x"], svg[onload], script:not([src])').length,
  }));

test("a thinking model's reasoning and a caller's think (captured bodies) and an upstream's error quoting the model asked for are shown as text; nothing runs", async () => {
  // An upstream's error that quotes what the caller asked for.
  const missing = await fetch(`${daemon.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: MISSING, messages: [{ role: "user", content: "hi" }], stream: false }) });
  expect(missing.status).toBeGreaterThanOrEqual(400);
  await missing.text();
  await page.locator("#tab-requests").click();
  const detail = async (text: string) => {
    await page.locator('#requests-filters input[name="text"]').fill("");
    const row = page.locator("#requests-body tr", { hasText: text }).first();
    await row.waitFor({ timeout: 10_000 });
    await row.locator("button").click();
  };
  // The thinking answer: its reasoning in the response body, the caller's think in the request body.
  const thinking = page.locator("#requests-body tr", { hasText: "/v1/chat/completions" }).first();
  await thinking.waitFor({ timeout: 10_000 });
  await thinking.locator("button").click();
  await page.getByText(THOUGHT, { exact: false }).first().waitFor({ timeout: 10_000 });
  await page.getByText(THINK, { exact: false }).first().waitFor({ timeout: 10_000 });
  // The upstream's error for the model it lacks, in the row and the detail.
  await detail(MISSING);
  await page.locator("#request-fields", { hasText: MISSING }).waitFor({ timeout: 10_000 });
  expect(await marks()).toEqual({ pwned: null, made: 0 });
  expect(complaints).toEqual([]);
}, 45_000);

test("Check now on a disabled upstream: the 409 is said in the page, and its button is usable again", async () => {
  await page.locator("#tab-overview").click();
  const check = page.locator('article[data-upstream="off"] button', { hasText: "Check now" });
  await check.click();
  const toast = page.locator("#toast");
  await toast.filter({ hasText: /disabled/ }).waitFor({ timeout: 10_000 });
  expect(await toast.getAttribute("class")).toContain("toast-error");
  await page.waitForFunction(() => !(document.querySelector('article[data-upstream="off"] .actions button') as HTMLButtonElement).disabled, undefined, { timeout: 10_000 });
  expect(await marks()).toEqual({ pwned: null, made: 0 });
  // A 409 the page handles is no console error of its own (Chromium's network line for it aside).
  expect(complaints.filter((c) => !/status of 409/.test(c))).toEqual([]);
}, 30_000);

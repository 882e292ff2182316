// End to end: the inspector's detail panel in headless Debian Chromium against the compiled binary's daemon and a fake
// Ollama: redacted headers, timings, Copy as curl (run for real) and Replay (a new row; refused without the whole body).
import { expect } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { ensureBinary } from "../helpers/binary.ts";
import { REPO, TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { openDashboard, type DashboardBrowser } from "../helpers/dashboard-browser.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium", "curl"]);

/** The committed screenshot is rewritten only when asked (C2L_UPDATE_SCREENSHOTS=1); otherwise it goes to artifacts/. */
const SCREENSHOT = process.env.C2L_UPDATE_SCREENSHOTS === "1" ? join(REPO, "docs/screenshots/inspector-detail.png") : join(REPO, "artifacts/inspector-detail.png");
const SECRETS = ["sk-upstream-secret-0001", "xk-secret-0002", "sid=cookie-secret-0003"];

let ollama: FakeOllama;
let daemon: DaemonProc;
let browser: DashboardBrowser;
let page: Page;
let binary: string;
let api: string;
let proxy: string;
let token: string;
let key: string;

async function apiCall(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(api + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
}

const rows = () => page.locator("#requests-body tr");
/** What the upstream got on /api/chat (its health checks are recorded too). */
const chats = () => ollama.requests.filter((x) => x.path === "/api/chat");

/** Opens the newest row's details once the table has more than `before` rows. */
async function openNewest(before: number): Promise<void> {
  await page.waitForFunction((n) => document.querySelectorAll("#requests-body tr").length > n, before, { timeout: 10_000 });
  await rows().first().locator("button").click();
  await page.locator("#request-detail").waitFor();
}

beforeAll(async () => {
  ollama = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 6 });
  binary = await ensureBinary();
  const config = `${TEST_DAEMON_TOML}[[upstreams]]
name = "alpha"
url = "${ollama.url}"
[dashboard]
capture_bodies = true
body_cap = 2048
[alerts]
notifications = false
`;
  daemon = await startDaemon({ binary, config, waitFor: ["api", "broker"] });
  api = daemon.urls.api!;
  proxy = daemon.urls.broker!;
  token = readFileSync(join(daemon.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const created = await apiCall("POST", "/api/v1/keys", { name: "inspect" });
  expect(created.status).toBe(201);
  key = ((await created.json()) as { key: string }).key;

  browser = await openDashboard(daemon, { binary });
  page = browser.page;
  await page.locator("#tab-requests").click();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  await ollama?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

describe("the inspector's detail panel (issue 24 item 10)", () => {
  test("a row opens details beside the table: headers with secrets redacted, timings; Copy as curl runs as it is", async () => {
    await page.waitForFunction(() => document.querySelector("#requests-count")?.textContent?.startsWith("Showing"));
    const before = await rows().count();
    const body = JSON.stringify({ model: "llama3.2:1b", stream: false, messages: [{ role: "user", content: "it's $HOME" }] });
    const r = await fetch(`${proxy}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}`, cookie: SECRETS[2]!, "x-upstream-auth": SECRETS[0]!, "x-trace-id": "trace-42" },
      body,
    });
    expect(r.status).toBe(200);
    await r.text();
    await openNewest(before);

    // Beside the table, not below it.
    const table = (await page.locator("#panel-requests .table-wrap").boundingBox())!;
    const panel = (await page.locator("#request-detail").boundingBox())!;
    expect(panel.x).toBeGreaterThanOrEqual(table.x + table.width - 1);

    const reqHeaders = page.locator("#request-headers-req");
    const header = async (name: string) => (await reqHeaders.locator("tr", { has: page.locator(`th:text-is("${name}")`) }).locator("td").textContent())?.trim();
    expect(await header("authorization")).toBe("[redacted]");
    expect(await header("cookie")).toBe("[redacted]");
    expect(await header("x-upstream-auth")).toBe("[redacted]");
    expect(await header("x-trace-id")).toBe("trace-42");
    expect(await header("content-type")).toBe("application/json");
    expect(await page.locator("#request-headers-res").textContent()).toContain("server-timing");
    const panelText = (await page.locator("#request-detail").textContent())!;
    for (const s of [key, key.slice(4), ...SECRETS]) expect(panelText).not.toContain(s);
    // What the API hands out is redacted the same way (the page shows what it got).
    const listed = await (await apiCall("GET", "/api/v1/requests?limit=5")).text();
    for (const s of [key, ...SECRETS]) expect(listed).not.toContain(s);

    const timings = await page.locator("#request-timings").textContent();
    for (const label of ["Queue", "Time to first token", "Duration", "Tokens/s"]) expect(timings).toContain(label);
    expect(await page.locator("#request-timings dt:text-is('Time to first token') + dd").textContent()).toMatch(/\d ms|\d s/);
    expect(await page.locator("#request-timings dt:text-is('Tokens/s') + dd").textContent()).toMatch(/^\d/);
    expect(await page.locator("#request-bodies pre").first().textContent()).toBe(body);

    // Tall enough for the whole panel (headers included) in one picture.
    mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
    await page.setViewportSize({ width: 1400, height: 1500 });
    await page.screenshot({ path: SCREENSHOT });
    await page.setViewportSize({ width: 1400, height: 900 });

    await page.locator("#request-copy-curl").click();
    const curl = (await page.locator("#request-curl").textContent())!;
    expect(curl).toStartWith(`curl '${proxy}/api/chat' -H `);
    expect(curl).toContain(` -H "Authorization: Bearer $C2L_KEY" `);
    expect(curl).toContain(` -H 'x-trace-id: trace-42' `);
    expect(curl).toContain("--data-raw");
    for (const s of [key, ...SECRETS]) expect(curl).not.toContain(s);
    // The command works as copied, with the key from the environment (as the placeholder says).
    const ran = Bun.spawn(["bash", "-c", `${curl} --silent --show-error --max-time 10 --output /dev/null --write-out '%{http_code}'`], {
      env: { ...process.env, C2L_KEY: key },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(ran.stdout).text(), new Response(ran.stderr).text()]);
    expect({ curl, out, err }).toEqual({ curl, out: "200", err: "" });
    const sent = chats().at(-1)!;
    expect(sent.json).toEqual(JSON.parse(body));
  }, 60_000);

  test("Replay sends the request again through the broker (with the CSRF token) and a new row appears", async () => {
    await rows().first().locator("button").click();
    const original = await rows().first().getAttribute("data-request");
    const before = await rows().count();
    const upstreamBefore = chats().length;
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/v1/requests/${original}/replay`)),
      page.locator("#request-replay").click(),
    ]);
    expect(resp.status()).toBe(200);
    expect(resp.request().headers()["x-csrf-token"]).toBeTruthy();
    await page.locator("#request-action-msg", { hasText: "answered 200" }).waitFor();
    expect(chats().length).toBe(upstreamBefore + 1);
    await page.waitForFunction((n) => document.querySelectorAll("#requests-body tr").length > n, before, { timeout: 10_000 });
    // The replay's own row (found by its mark through the API: a redraw may put another row first), opened.
    let replayId: string | undefined;
    await until(async () => {
      const { requests } = (await (await apiCall("GET", "/api/v1/requests?limit=20")).json()) as { requests: { id: string }[] };
      // Only the replay's record names the original's id (in its x-c2l-replay-of header).
      replayId = requests.find((r) => r.id !== original && JSON.stringify(r).includes(original!))?.id;
      return replayId !== undefined;
    }, 5000, "the replay's record");
    await page.locator(`#requests-body tr[data-request="${replayId}"] button`).click();
    await page.locator("#request-headers-req", { hasText: `x-c2l-replay-of${original}` }).waitFor({ timeout: 5000 });
    // The same body, without the credentials it came with (they were never kept).
    expect(chats().at(-1)!.json).toEqual(chats().at(-2)!.json);
    expect(chats().at(-1)!.headers["x-trace-id"]).toBe("trace-42");
    // Without the token or the session's CSRF token, nothing is replayed.
    expect((await fetch(`${api}/api/v1/requests/${original}/replay`, { method: "POST" })).status).toBe(401);
    expect(await page.evaluate(async (id) => (await fetch(`/api/v1/requests/${id}/replay`, { method: "POST" })).status, original)).toBe(403);
  }, 30_000);

  test("a request whose body was cut at body_cap cannot be replayed: the button says why and the API answers 409", async () => {
    const before = await rows().count();
    const big = JSON.stringify({ model: "llama3.2:1b", stream: false, messages: [{ role: "user", content: "x".repeat(3000) }] });
    expect((await fetch(`${proxy}/api/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: big })).status).toBe(200);
    await openNewest(before);
    expect(await page.locator("#request-replay").isDisabled()).toBe(true);
    expect(await page.locator("#request-replay-why").textContent()).toContain("body_cap");
    const id = await rows().first().getAttribute("data-request");
    const r = await apiCall("POST", `/api/v1/requests/${id}/replay`);
    expect(r.status).toBe(409);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain("body_cap");
    // Copy as curl reads such a body from a file instead of sending a cut one.
    await page.locator("#request-copy-curl").click();
    expect(await page.locator("#request-curl").textContent()).toContain("--data-binary @body.json");
  }, 30_000);
});

// End to end: the dashboard in headless Debian Chromium against the compiled binary's daemon, a real relay and two fake upstreams.
// Every request the page makes to a host other than 127.0.0.1 is blocked and the test asserts there were none.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromiumContext } from "../helpers/dashboard-browser.ts";
import { ensureBinary } from "../helpers/binary.ts";
import { REPO, TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

const ARTIFACTS = join(REPO, "artifacts");
/** The committed screenshot is rewritten only when asked (C2L_UPDATE_SCREENSHOTS=1); otherwise it goes to artifacts/. */
const OVERVIEW_SHOT = process.env.C2L_UPDATE_SCREENSHOTS === "1" ? join(REPO, "docs/screenshots/dashboard-overview.png") : join(ARTIFACTS, "dashboard-overview.png");

let alpha: FakeOllama;
let beta: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let binDir: string;
let api: string;
let proxy: string;
let binary: string;
let token: string;
const blocked: string[] = [];
const apiCalls: { method: string; path: string; status: number }[] = [];

function daemonConfig(): string {
  return `${TEST_DAEMON_TOML}[health]
interval = "250ms"
down_interval = "250ms"
timeout = "1s"
failures_before_down = 1
[[upstreams]]
name = "alpha"
url = "${alpha.url}"
priority = 10
[[upstreams]]
name = "beta"
url = "${beta.url}"
priority = 20
[alerts]
upstream_down_after = "300ms"
notifications = false
[tunnel]
enabled = true
relay_url = "${relay.url.replace(/^http/, "ws")}/agent"
[tunnel.backoff]
initial = "100ms"
max = "400ms"
[tunnel.heartbeat]
interval = "300ms"
tolerance = "1200ms"
`;
}

async function apiJson<T = any>(method: string, path: string): Promise<T> {
  const r = await fetch(api + path, { method, headers: { authorization: `Bearer ${token}` } });
  expect(r.ok).toBe(true);
  return (await r.json()) as T;
}

async function chat(base: string, model: string, headers: Record<string, string> = {}, stream = false): Promise<Response> {
  const r = await fetch(`${base}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hello" }] }),
  });
  await r.text();
  return r;
}

/** Visible text whose contrast with its background is below WCAG AA (4.5:1, or 3:1 for large or bold text). */
function lowContrast(p: Page): Promise<string[]> {
  return p.evaluate(() => {
    const rgba = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number) as number[];
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      for (; el; el = el.parentElement) {
        const c = rgba(getComputedStyle(el).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3]! > 0.5)) return c;
      }
      return [255, 255, 255];
    };
    const bad: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>("body *")) {
      if (el instanceof SVGElement || !el.checkVisibility?.() || (el as HTMLButtonElement).disabled) continue;
      const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent!.trim()).join("");
      if (!text || el.closest(".sr-only")) continue;
      const st = getComputedStyle(el);
      const a = lum(rgba(st.color));
      const b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName.toLowerCase()}.${el.className} "${text.slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return bad;
  });
}

beforeAll(async () => {
  [alpha, beta] = await Promise.all([
    startFakeOllama({ models: ["llama3.2:1b"], tokens: 8 }),
    startFakeOllama({ models: ["qwen2.5:0.5b"], tokens: 8, tokenDelayMs: 2 }),
  ]);
  relay = await startRelayProc(relayToml());
  // The page is bundled into the binary at build time: test what users run.
  binary = await ensureBinary();
  daemon = await startDaemon({ binary, config: daemonConfig(), env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN }, waitFor: ["api", "broker"] });
  api = daemon.urls.api!;
  proxy = daemon.urls.broker!;
  token = readFileSync(join(daemon.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  await daemon.waitFor(/tunnel: connected to the relay/, 15_000);

  // A stand-in for xdg-open that records the URL it was asked to open, so the test sees exactly what a browser would get.
  binDir = mkdtempSync(join(tmpdir(), "c2l-dash-bin-"));
  writeFileSync(join(binDir, "xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > "${binDir}/opened"\n`);
  chmodSync(join(binDir, "xdg-open"), 0o755);

  userDataDir = mkdtempSync(join(tmpdir(), "c2l-chromium-"));
  context = await launchChromiumContext(userDataDir, {
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
  });
  browser = context.browser()!;
  await context.route(
    (url) => url.hostname !== "127.0.0.1",
    (route) => {
      blocked.push(route.request().url());
      return route.abort();
    },
  );
  await context.routeWebSocket(
    (url) => url.hostname !== "127.0.0.1",
    (ws) => {
      blocked.push(ws.url());
      ws.close();
    },
  );
  page = context.pages()[0] ?? (await context.newPage());
  page.on("response", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/api/")) apiCalls.push({ method: r.request().method(), path: u.pathname, status: r.status() });
  });
}, 180_000);

afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await daemon?.stop();
  await relay?.stop();
  await Promise.all([alpha?.stop(), beta?.stop()]);
  if (daemon) removeHome(daemon.home);
  if (relay) rmSync(relay.dir, { recursive: true, force: true });
  for (const d of [userDataDir, binDir]) if (d) rmSync(d, { recursive: true, force: true });
}, 30_000);

describe("dashboard in Chromium", () => {
  test("the page opens from the one-time URL that `dashboard` hands to xdg-open; the code works once", async () => {
    const cli = Bun.spawn([binary, "dashboard", "--url", api], {
      env: { ...daemon.env, PATH: `${binDir}:${daemon.env.PATH}` },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await cli.exited).toBe(0);
    const url = readFileSync(join(binDir, "opened"), "utf8");
    expect(url).toStartWith(`${api}/auth?code=`);
    expect(url).not.toContain(token);

    const res = await page.goto(url);
    expect(res?.ok()).toBe(true);
    // The redirect dropped the code from the address bar (and so from the history).
    expect(page.url()).toStartWith(`${api}/`);
    expect(page.url()).not.toContain("code=");
    await expect(page.title()).resolves.toContain("dashboard");
    const cookies = await context.cookies(api);
    const session = cookies.find((c) => c.name === "c2l_session");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");
    expect(session?.value).not.toContain(token);
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });

    // The same link again (say, from the history) is refused.
    const again = await context.newPage();
    const second = await again.goto(url);
    expect(second?.status()).toBe(401);
    expect(await again.textContent("h1")).toContain("expired");
    await again.close();
  }, 30_000);

  test("`dashboard --print-url` prints a fresh link; a failing xdg-open is one clear sentence and exit 1", async () => {
    const printed = Bun.spawnSync([binary, "dashboard", "--print-url", "--url", api], { env: daemon.env, stdout: "pipe", stderr: "pipe" });
    expect(printed.exitCode).toBe(0);
    expect(printed.stdout.toString().trim()).toMatch(new RegExp(`^${api}/auth\\?code=[\\w-]+$`));

    writeFileSync(join(binDir, "xdg-open"), "#!/bin/sh\necho 'no method available for opening' >&2\nexit 3\n");
    const failed = Bun.spawnSync([binary, "dashboard", "--url", api], { env: { ...daemon.env, PATH: `${binDir}:${daemon.env.PATH}` }, stdout: "pipe", stderr: "pipe" });
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr.toString().trim()).toBe(
      "cloudtolocalllm-tunnel dashboard: could not open a browser: xdg-open failed (exit 3): no method available for opening. Use --print-url and open the link yourself.",
    );

    const down = Bun.spawnSync([binary, "dashboard", "--print-url", "--url", "http://127.0.0.1:1"], { env: daemon.env, stdout: "pipe", stderr: "pipe" });
    expect(down.exitCode).toBe(1);
    expect(down.stderr.toString()).toContain("cannot reach the daemon");
  }, 30_000);

  test("shows a card per upstream with state, quality, version, models, loaded models, slots and metrics", async () => {
    const cards = page.locator("article.upstream");
    await expect(cards.count()).resolves.toBe(2);
    for (const [name, model] of [
      ["alpha", "llama3.2:1b"],
      ["beta", "qwen2.5:0.5b"],
    ] as const) {
      const card = page.locator(`article[data-upstream="${name}"]`);
      await card.locator('[data-f="state"]', { hasText: "up" }).waitFor({ timeout: 10_000 });
      expect(await card.locator("h3").textContent()).toBe(name);
      expect(await card.locator('[data-f="version"]').textContent()).toBe("0.14.0");
      expect(await card.locator('[data-f="modelCount"]').textContent()).toBe("1");
      // What the server says of itself: Ollama's /api/ps names its loaded model; it reports no slots.
      await card.locator('[data-f="loaded"]', { hasText: "1" }).waitFor({ timeout: 5_000 });
      expect(await card.locator('[data-f="slots"]').textContent()).toBe("—");
      expect(await card.locator(".models li").allTextContents()).toEqual([model]);
      expect(await card.locator('[data-f="quality"]').textContent()).toMatch(/excellent|good|poor|critical/);
      await expect(card.locator('[data-f="p95"]').count()).resolves.toBe(1);
    }
    expect(await page.locator("#overall-quality").textContent()).toMatch(/excellent|good|poor|critical|down/);
    expect(await page.locator("#tunnel-state").textContent()).toBe("connected");
    // The sign-in line under the tunnel (no [auth] here): its state, and no refresh trouble to show.
    expect(await page.locator("#auth-state").textContent()).toBe("disabled");
    expect(await page.locator("#auth-error").isHidden()).toBe(true);
  }, 30_000);

  test("the live charts have readable axes: the unit above the y labels, clock-time ticks along x", async () => {
    const box = page.locator('[data-charts="alpha"]');
    await box.locator("svg.chart").first().waitFor({ state: "attached" });
    // Charts are drawn while on screen (as a user looks at them): scrolled to, each has its clock ticks.
    await box.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-charts="alpha"] svg.chart')].every((svg) => svg.querySelector('text[data-axis="x"][visibility="visible"]')), undefined, { timeout: 10_000 });
    expect(await box.locator('text[data-axis="y-unit"]').allTextContents()).toEqual(["ms", "req/s", "tok/s"]);
    for (const svg of await box.locator("svg.chart").all()) {
      // 0, half and the top of the scale.
      const y = await svg.locator('text[data-axis="y"]').allTextContents();
      expect(y.length).toBe(3);
      for (const l of y) expect(l).toMatch(/^\d+(\.\d+)?k?$/);
      expect(y[0]).toBe("0");
      // Whole five minutes of the clock inside the 15-minute window, left to right.
      const ticks = svg.locator('text[data-axis="x"][visibility="visible"]');
      const labels = await ticks.allTextContents();
      expect(labels.length).toBeGreaterThanOrEqual(3);
      for (const l of labels) expect(l).toMatch(/^\d\d:\d[05]$/);
      const xs = await ticks.evaluateAll((els) => els.map((e) => Number(e.getAttribute("x"))));
      expect(xs).toEqual([...xs].sort((a, b) => a - b));
      const times = await ticks.evaluateAll((els) => els.map((e) => Number((e as SVGElement).dataset.t)));
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(10 * 60_000);
      expect(await svg.locator("title").textContent()).toMatch(/\((ms|req\/s|tok\/s)\), last 15 minutes/);
    }
    // The text is not stretched: the chart keeps its drawing's aspect ratio.
    const ratio = await box.locator("svg.chart").first().evaluate((el) => {
      const r = el.getBoundingClientRect();
      const vb = (el as SVGSVGElement).viewBox.baseVal;
      return r.width / r.height / (vb.width / vb.height);
    });
    expect(Math.abs(ratio - 1)).toBeLessThan(0.02);
  }, 30_000);

  test("reflects an upstream going down within 2 s, without a reload; its alert is raised and cleared live", async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const card = page.locator('article[data-upstream="beta"]');
    const alert = page.locator('#alerts-list [data-alert="upstream_down:beta"]');
    const step = async (what: string, p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        const log = daemon.stderr().split("\n").filter((l) => /beta|alert/.test(l)).slice(-15).join("\n");
        throw new Error(`${what}: ${(e as Error).message.split("\n")[0]}\ndaemon log:\n${log}`);
      }
    };
    try {
      const t0 = performance.now();
      beta.setHealthy(false);
      await step("card shows down", card.locator('[data-f="state"]', { hasText: "down" }).waitFor({ timeout: 2000 }));
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(await card.getAttribute("data-state")).toBe("down");
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
      // The one verdict (as status and the tray give it): the headline is not excellent, the banner says which and why;
      // the down card shows no model count or latency from before.
      const verdict = page.locator("#health-verdict");
      await step("verdict shown", page.locator("#health-verdict", { hasText: "beta is down" }).waitFor({ timeout: 5000 }));
      expect(await verdict.textContent()).toBe((await apiJson("GET", "/api/v1/status")).verdict.text);
      expect(await page.locator("#overall-quality").textContent()).not.toBe("excellent");
      expect(await card.locator('[data-f="modelCount"]').textContent()).toBe("—");
      expect(await card.locator('[data-f="p95"]').textContent()).toBe("—");
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "dashboard-verdict.png") });
      // README's picture of the overview: the verdict banner down to the tunnel card with its cloud URL block.
      await step("cloud URL shown", page.locator("#tunnel-cloud-url", { hasText: `/t/${TUNNEL_ID}/` }).waitFor({ timeout: 5000 }));
      const bottom = await page.locator("#tunnel-card").evaluate((el) => el.getBoundingClientRect().bottom + window.scrollY);
      mkdirSync(join(OVERVIEW_SHOT, ".."), { recursive: true });
      await page.screenshot({ path: OVERVIEW_SHOT, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 16 } });
      await step("alert raised", alert.waitFor({ timeout: 10_000 }));
      expect(await alert.textContent()).toContain("beta");
    } finally {
      beta.setHealthy(true);
    }
    await step("card shows up", card.locator('[data-f="state"]', { hasText: "up" }).waitFor({ timeout: 10_000 }));
    await step("alert cleared", alert.waitFor({ state: "detached", timeout: 10_000 }));
    await step("verdict cleared", page.locator("#health-verdict").waitFor({ state: "hidden", timeout: 10_000 }));
    expect(await page.locator("#no-alerts").isVisible()).toBe(true);
  }, 45_000);

  test("lists proxied requests (broker and tunnel) in the inspector, live, with filters", async () => {
    // Keyboard: the tabs follow the ARIA pattern (arrow keys move between them).
    await page.locator("#tab-overview").focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.locator("#tab-requests").getAttribute("aria-selected")).toBe("true");
    await expect(page.locator("#panel-requests").isVisible()).resolves.toBe(true);

    expect((await chat(proxy, "llama3.2:1b")).status).toBe(200);
    expect((await chat(proxy, "qwen2.5:0.5b", {}, true)).status).toBe(200);
    const missing = await chat(proxy, "no-such-model:1b");
    expect(missing.status).toBeGreaterThanOrEqual(400);
    const viaTunnel = await chat(`${relay.url}/t/${TUNNEL_ID}`, "llama3.2:1b", { authorization: `Bearer ${CLIENT_KEY}` });
    expect(viaTunnel.status).toBe(200);

    const rows = page.locator("#requests-body tr");
    await page.waitForFunction(() => document.querySelectorAll("#requests-body tr").length >= 4, undefined, { timeout: 5000 });
    const text = await rows.allTextContents();
    expect(text.some((t) => t.includes("/api/chat") && t.includes("alpha") && t.includes("llama3.2:1b") && t.includes("200"))).toBe(true);
    expect(text.some((t) => t.includes("beta") && t.includes("qwen2.5:0.5b"))).toBe(true);
    expect(await page.locator("#requests-body tr.row-error").count()).toBeGreaterThanOrEqual(1);

    // Filter: only the request that came through the tunnel.
    await page.selectOption('#requests-filters select[name="source"]', "tunnel");
    await expect(rows.count()).resolves.toBe(1);
    expect(await rows.first().textContent()).toContain("tunnel");
    await page.selectOption('#requests-filters select[name="source"]', "");

    // Details open from the keyboard; bodies are not kept by default.
    await rows.first().locator("button").focus();
    await page.keyboard.press("Enter");
    await expect(page.locator("#request-detail").isVisible()).resolves.toBe(true);
    expect(await page.locator("#request-bodies").textContent()).toContain("not kept");
    await page.keyboard.press("Escape");
    await expect(page.locator("#request-detail").isVisible()).resolves.toBe(false);
    expect(await page.evaluate(() => document.activeElement?.closest("tr")?.getAttribute("data-request"))).toBe(await rows.first().getAttribute("data-request"));

    // A reload of the list from GET /api/v1/requests shows the same records (the daemon's ring).
    const list = await apiJson<{ requests: { path: string; source: string }[] }>("GET", "/api/v1/requests");
    expect(list.requests.filter((r) => r.path === "/api/chat").length).toBeGreaterThanOrEqual(4);
    expect(list.requests.some((r) => r.source === "tunnel")).toBe(true);
  }, 30_000);

  test("restarts the tunnel from its button", async () => {
    await page.locator("#tab-overview").click();
    await page.locator("#tunnel-state", { hasText: "connected" }).waitFor({ timeout: 5000 });
    const before = relay.count(/agent connected/);
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/v1/tunnel/restart") && r.request().method() === "POST"),
      page.locator("#tunnel-restart").click(),
    ]);
    expect(resp.status()).toBe(200);
    // The cookie-authenticated change carried the CSRF token.
    expect(resp.request().headers()["x-csrf-token"]).toBeTruthy();
    await page.locator("#tunnel-msg", { hasText: "restart requested" }).waitFor();
    // The relay saw the agent come back, and the page shows it connected again.
    for (let i = 0; i < 100 && relay.count(/agent connected/) <= before; i++) await Bun.sleep(50);
    expect(relay.count(/agent connected/)).toBeGreaterThan(before);
    await page.locator("#tunnel-state", { hasText: "connected" }).waitFor({ timeout: 5000 });
  }, 30_000);

  test("the tunnel card shows the cloud URL with a curl and the OpenAI base URL that work as pasted", async () => {
    await page.locator("#tab-overview").click();
    await page.locator("#tunnel-state", { hasText: "connected" }).waitFor({ timeout: 5000 });
    const cloud = `${relay.url}/t/${TUNNEL_ID}/`;
    await page.locator("#tunnel-cloud-url", { hasText: cloud }).waitFor({ timeout: 5000 });
    expect(await page.locator("#tunnel-cloud").isVisible()).toBe(true);
    const example = (await page.locator("#tunnel-cloud-example").textContent())!;
    expect(example).toContain(`curl -H "Authorization: Bearer $CLIENT_KEY" ${cloud}v1/models`);
    expect(example).toContain(`base_url="${cloud}v1"`);
    expect(example).toContain(`# In a browser (a phone too): ${relay.url}/chat`);
    // The URL is the one the relay serves this tunnel at: the example's request answers with the daemon's models.
    const r = await fetch(`${cloud}v1/models`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect(r.status).toBe(200);
    expect(JSON.stringify(await r.json())).toContain("llama3.2:1b");
  }, 30_000);

  test("Start is disabled while connected; after the relay restarts, the old Last error is gone once connected again", async () => {
    await page.locator("#tab-overview").click();
    await page.locator("#tunnel-state", { hasText: "connected" }).waitFor({ timeout: 5000 });
    const start = page.locator("#tunnel-start");
    expect(await start.isDisabled()).toBe(true);
    expect(await page.locator("#tunnel-restart").isDisabled()).toBe(false);

    // The relay goes away: the page shows the error and Start comes back.
    const port = relay.port;
    const old = relay;
    await old.stop();
    rmSync(old.dir, { recursive: true, force: true });
    await page.locator("#tunnel-error", { hasText: "Last error" }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#tunnel-state").textContent()).not.toBe("connected");
    await page.waitForFunction(() => !(document.querySelector("#tunnel-start") as HTMLButtonElement).disabled, undefined, { timeout: 5000 });

    // Back on the same address: connected again, and the error is history.
    relay = await startRelayProc(relayToml({ listen: `127.0.0.1:${port}` }));
    await page.locator("#tunnel-state", { hasText: "connected" }).waitFor({ timeout: 15_000 });
    // The daemon still reports the last error (status keeps it); the page does not show it as current.
    expect((await apiJson("GET", "/api/v1/status")).tunnel.lastError).toBeTruthy();
    expect(await page.locator("#tunnel-error").isHidden()).toBe(true);
    expect(await start.isDisabled()).toBe(true);
    expect(await start.getAttribute("title")).toContain("Restart");
  }, 45_000);

  test("the Gateway tab creates a key (shown once), lists it, shows its usage and revokes it", async () => {
    await page.locator("#tab-gateway").click();
    await page.locator("#gw-queue", { hasText: "waiting now" }).waitFor({ timeout: 5000 });
    await page.locator('#key-form input[name="name"]').fill("dash-key");
    await page.locator('#key-form input[name="models"]').fill("llama3*");
    await page.locator('#key-form input[name="rpm"]').fill("30");
    await page.locator('#key-form input[name="allow_model_management"]').check();
    const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/api/v1/keys") && r.request().method() === "POST"), page.locator("#key-create").click()]);
    expect(resp.status()).toBe(201);
    await page.locator("#key-created").waitFor();
    const key = (await page.locator("#key-created-value").textContent())!.trim();
    expect(key).toMatch(/^c2l_/);
    const row = page.locator('#keys-body tr[data-key="dash-key"]');
    await row.waitFor();
    expect(await row.textContent()).toContain("llama3*");
    expect(await row.locator("td").nth(5).textContent()).toBe("yes");
    // The table never shows the key itself, only its first characters.
    expect(await page.locator("#keys-body").textContent()).not.toContain(key.slice(8));
    // The key works at the broker; its request shows in the usage table.
    const chat = () =>
      fetch(`${proxy}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: "llama3.2:1b", messages: [], stream: false }) });
    for (let i = 0; i < 40 && (await chat()).status !== 200; i++) await Bun.sleep(100);
    await Bun.sleep(100);
    await page.locator("#usage-refresh").click();
    await page.locator("#usage-body tr", { hasText: "dash-key" }).first().waitFor({ timeout: 5000 });
    // Revoked from the page: gone from the table, and refused at the broker.
    await page.locator('button[aria-label="Revoke key dash-key"]').click();
    await row.waitFor({ state: "detached" });
    let status = 0;
    for (let i = 0; i < 40 && (status = (await chat()).status) !== 401; i++) await Bun.sleep(100);
    expect(status).toBe(401);
  }, 30_000);

  test("the Gateway tab charts usage per day by key and by model, with the ledger's values", async () => {
    await page.locator("#tab-gateway").click();
    const made = await fetch(`${api}/api/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "chart-key" }) });
    expect(made.status).toBe(201);
    const key = ((await made.json()) as { key: string }).key;
    for (let i = 0; i < 3; i++) expect((await chat(proxy, "qwen2.5:0.5b", { authorization: `Bearer ${key}` })).status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    type Row = { day: string; key: string; model: string; requests: number; prompt_tokens: number; completion_tokens: number };
    let rows: Row[] = [];
    const sum = (f: (r: Row) => boolean, v: (r: Row) => number) => rows.filter((r) => r.day === today && f(r)).reduce((a, r) => a + v(r), 0);
    for (let i = 0; i < 50; i++) {
      rows = (await apiJson<{ rows: Row[] }>("GET", `/api/v1/usage?since=${today}`)).rows;
      if (sum((r) => r.key === "chart-key", (r) => r.requests) === 3) break;
      await Bun.sleep(100);
    }
    await page.locator("#usage-refresh").click();
    const byKey = page.locator("#usage-by-key svg");
    const bar = byKey.locator(`rect[data-series="chart-key"][data-day="${today}"]`);
    await bar.waitFor({ timeout: 5000 });
    expect(await bar.getAttribute("data-value")).toBe("3");
    expect(await bar.locator("title").textContent()).toBe(`chart-key, ${today}: 3 requests`);
    expect(Number(await bar.getAttribute("height"))).toBeGreaterThan(0);
    // By model: today's bar for each model is what the ledger holds for it, all keys together.
    const byModel = page.locator("#usage-by-model svg");
    for (const model of ["qwen2.5:0.5b", "llama3.2:1b"]) {
      const want = sum((r) => r.model === model, (r) => r.requests);
      expect({ model, value: await byModel.locator(`rect[data-series="${model}"][data-day="${today}"]`).getAttribute("data-value") }).toEqual({ model, value: String(want) });
    }
    // Axes: the unit, a label under each of the 7 days, and the scale's numbers.
    expect(await byKey.locator('text[data-axis="y-unit"]').textContent()).toBe("requests");
    const days = await byKey.locator('text[data-axis="x"]').allTextContents();
    expect(days.length).toBe(7);
    expect(days.at(-1)).toBe(`${["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][new Date().getUTCDay()]} ${new Date().getUTCDate()}`);
    expect(await byKey.locator('text[data-axis="y"]').allTextContents()).toHaveLength(3);
    expect(await page.locator('#usage-by-key li[data-series="chart-key"]').textContent()).toBe("chart-key (3)");
    // Tokens instead of requests: the same bars measured in prompt + completion tokens.
    await page.locator("#usage-measure").selectOption("tokens");
    const tokens = sum((r) => r.key === "chart-key", (r) => r.prompt_tokens + r.completion_tokens);
    expect(tokens).toBeGreaterThan(0);
    expect(await bar.getAttribute("data-value")).toBe(String(tokens));
    expect(await byKey.locator('text[data-axis="y-unit"]').textContent()).toBe("tokens");
    await page.locator("#usage-measure").selectOption("requests");
    if (process.env.C2L_UPDATE_SCREENSHOTS === "1") {
      mkdirSync(join(REPO, "docs/screenshots"), { recursive: true });
      await page.locator(".usage-charts").screenshot({ path: join(REPO, "docs/screenshots/dashboard-usage.png") });
    }
  }, 30_000);

  test("shows a field-level error for a bad config edit and applies a good one", async () => {
    await page.locator("#tab-config").click();
    const interval = page.locator("#cfg-health-interval");
    await page.waitForFunction(() => (document.querySelector("#cfg-health-interval") as HTMLInputElement).value === "250ms");
    const onDisk = () => readFileSync(daemon.configFile, "utf8");
    const before = onDisk();

    // Bad: the API's message appears at the field itself, and nothing is written.
    await interval.fill("soon");
    await page.locator("#cfg-save").click();
    const err = page.locator("#cfg-health-interval-err");
    await err.waitFor({ state: "visible" });
    expect((await err.textContent())!.length).toBeGreaterThan(3);
    expect(await interval.getAttribute("aria-invalid")).toBe("true");
    expect(await interval.getAttribute("aria-describedby")).toBe("cfg-health-interval-err");
    expect(onDisk()).toBe(before);

    // Bad in the TOML editor: the issue names its line and column.
    await page.locator("#cfg-reset").click();
    const editor = page.locator("#toml-editor");
    await page.waitForFunction(() => (document.querySelector("#toml-editor") as HTMLTextAreaElement).value.includes("priority = 20"));
    const text = await editor.inputValue();
    const badLine = text.split("\n").findIndex((l) => l.includes("priority = 20")) + 1;
    await editor.fill(text.replace("priority = 20", 'priority = "high"'));
    await page.locator("#toml-validate").click();
    const issue = page.locator("#toml-issues li").first();
    await issue.waitFor();
    expect(await issue.textContent()).toContain(`line ${badLine}, column`);
    expect(await issue.textContent()).toContain("upstreams[1].priority");
    expect(await page.locator(`#toml-gutter [data-line="${badLine}"]`).getAttribute("class")).toContain("bad");
    await page.locator("#toml-revert").click();
    await page.waitForFunction(() => (document.querySelector("#toml-editor") as HTMLTextAreaElement).value.includes("priority = 20"));
    expect(await page.locator("#toml-issues li").count()).toBe(0);

    // Good: beta's priority from the form → written, hot-applied, shown on the overview without a reload.
    await page.locator('[data-path="upstreams[1].priority"]').fill("5");
    await page.locator("#cfg-save").click();
    await page.locator("#config-form-status", { hasText: "Saved. The daemon applied" }).waitFor();
    expect(onDisk()).toMatch(/priority = 5\b/);
    const status = await apiJson<{ upstreams: { name: string; priority: number }[] }>("GET", "/api/v1/status");
    expect(status.upstreams.find((u) => u.name === "beta")?.priority).toBe(5);
    // The overview (hidden behind this tab) was updated live from the config.reloaded event.
    await page.locator('article[data-upstream="beta"] [data-f="where"]', { hasText: "priority 5" }).waitFor({ state: "attached", timeout: 3000 });

    // The save took a backup (newest first); restoring it (two presses) brings priority 20 back, live.
    const newest = page.locator("#backups-list li button").first();
    await newest.waitFor();
    await newest.click();
    await page.locator("#backups-list li button", { hasText: "Press again" }).waitFor();
    const [restored] = await Promise.all([
      page.waitForResponse((r) => /\/api\/v1\/config\/backups\/[^/]+\/restore$/.test(r.url()), { timeout: 5000 }),
      newest.click(),
    ]);
    expect({ status: restored.status(), body: restored.status() === 200 ? "" : await restored.text() }).toEqual({ status: 200, body: "" });
    await page.locator("#toast", { hasText: "Restored" }).waitFor({ timeout: 5000 });
    expect(onDisk()).toMatch(/priority = 20\b/);
    await page.locator('article[data-upstream="beta"] [data-f="where"]', { hasText: "priority 20" }).waitFor({ state: "attached", timeout: 3000 });
  }, 30_000);

  test("the TOML editor saves a good edit and the daemon applies it", async () => {
    const editor = page.locator("#toml-editor");
    // The editor reloads the restored file after the test before; an edit of the text before it would be refused (412).
    await page.waitForFunction(() => (document.querySelector("#toml-editor") as HTMLTextAreaElement).value.includes("priority = 20"));
    const text = await editor.inputValue();
    expect(text).toContain('timeout = "1s"');
    await editor.fill(text.replace('timeout = "1s"', 'timeout = "2s"'));
    await page.locator("#toml-save").click();
    await page.locator("#toml-status", { hasText: "Saved. The daemon applied" }).waitFor();
    expect(readFileSync(daemon.configFile, "utf8")).toContain('timeout = "2s"');
    const cfg = await apiJson<{ config: { health: { timeout: string } } }>("GET", "/api/v1/config");
    expect(cfg.config.health.timeout).toBe("2s");
    expect(await page.locator("#toml-issues li").count()).toBe(0);
  }, 30_000);

  test("a config file broken on disk shows a banner with its line; fixing it clears the banner", async () => {
    const good = readFileSync(daemon.configFile, "utf8");
    const lines = good.split("\n");
    const at = lines.findIndex((l) => l.startsWith("failures_before_down")) + 1;
    lines[at - 1] = "failures_before_down = 0";
    writeFileSync(daemon.configFile, lines.join("\n"));
    const banner = page.locator('[data-banner="config"]');
    await banner.waitFor({ timeout: 5000 });
    expect(await banner.textContent()).toContain(`line ${at}`);
    writeFileSync(daemon.configFile, good);
    await banner.waitFor({ state: "detached", timeout: 5000 });
  }, 30_000);

  test("exports the config as a file and refuses an invalid import with the reason", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#config-export").click()]);
    expect(download.suggestedFilename()).toBe("tunnel.toml");
    const exported = readFileSync((await download.path())!, "utf8");
    expect(exported).toContain('name = "beta"');

    const before = readFileSync(daemon.configFile, "utf8");
    await page.locator("#config-import").setInputFiles({ name: "bad.toml", mimeType: "application/toml", buffer: Buffer.from('[health]\ninterval = "often"\n') });
    await page.locator("#import-status", { hasText: "Not imported" }).waitFor();
    expect(await page.locator("#import-status").textContent()).toContain("health.interval");
    expect(readFileSync(daemon.configFile, "utf8")).toBe(before);
  }, 30_000);

  test("with capture_bodies on (from the form), request details show the bodies cut at body_cap", async () => {
    await page.locator("#tab-config").click();
    await page.locator("#cfg-capture").check();
    await page.locator("#cfg-body-cap").fill("16");
    await page.locator("#cfg-save").click();
    await page.locator("#config-form-status", { hasText: "Saved. The daemon applied" }).waitFor();
    await page.locator("#tab-requests").click();
    // The row of this request, not an older one for the same model: wait for the list to grow.
    const before = await page.locator("#requests-body tr").count();
    expect((await chat(proxy, "llama3.2:1b")).status).toBe(200);
    const row = page.locator("#requests-body tr").first();
    await page.waitForFunction(
      (n) => document.querySelector("#requests-body tr td:nth-child(5)")?.textContent === "llama3.2:1b" && document.querySelectorAll("#requests-body tr").length > Math.max(n, 4),
      before,
    );
    await row.locator("button").click();
    const pres = page.locator("#request-bodies pre");
    await expect(pres.count()).resolves.toBe(2);
    const [reqBody, resBody] = await pres.allTextContents();
    expect(reqBody).toBe('{"model":"llama3'); // the first 16 bytes of what chat() sent
    expect(Buffer.byteLength(resBody!)).toBeLessThanOrEqual(16);
    expect(resBody!.length).toBeGreaterThan(0);
    expect(await page.locator("#request-bodies h4").allTextContents()).toEqual(["Request body (truncated)", "Response body (truncated)"]);
    await page.keyboard.press("Escape");
  }, 30_000);

  test("a disabled tunnel: the Start button's request gets a 409 and the page shows its message", async () => {
    await page.locator("#tab-config").click();
    await page.locator("#cfg-tunnel-enabled").uncheck();
    await page.locator("#cfg-save").click();
    await page.locator("#config-form-status", { hasText: "Saved. The daemon applied" }).waitFor();
    await page.locator("#tab-overview").click();
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/v1/tunnel/start")),
      page.locator("#tunnel-start").click(),
    ]);
    expect(resp.status()).toBe(409);
    await page.locator("#tunnel-msg.msg-error", { hasText: "disabled" }).waitFor();
  }, 30_000);

  test("cookie-authenticated changes need the CSRF token and the page's own origin", async () => {
    // The page's session cookie alone (as another page on localhost would send it) does not change anything.
    const noCsrf = await page.evaluate(async () => (await fetch("/api/v1/reconnect", { method: "POST" })).status);
    expect(noCsrf).toBe(403);
    const withCsrf = await page.evaluate(async () => {
      const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')!.content;
      return (await fetch("/api/v1/reconnect", { method: "POST", headers: { "x-csrf-token": csrf } })).status;
    });
    expect(withCsrf).toBe(200);
  }, 30_000);

  test("light and dark screenshots; a narrow window has no horizontal scroll", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator("#tab-overview").click();
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: "light" });
    const light = await bg();
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-light.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await bg();
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-dark.png"), fullPage: true });
    expect(light).not.toBe(dark);
    await page.emulateMedia({ colorScheme: "light" });
    for (const tab of ["requests", "config"]) {
      await page.locator(`#tab-${tab}`).click();
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-${tab}.png`), fullPage: true });
    }
    // WCAG AA for every visible piece of text on every tab, in both schemes.
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme });
      for (const tab of ["overview", "requests", "gateway", "config"]) {
        await page.locator(`#tab-${tab}`).click();
        expect({ colorScheme, tab, low: await lowContrast(page) }).toEqual({ colorScheme, tab, low: [] });
      }
    }
    await page.locator("#tab-overview").click();

    await page.setViewportSize({ width: 380, height: 800 });
    for (const tab of ["overview", "requests", "gateway", "config"]) {
      await page.locator(`#tab-${tab}`).click();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect({ tab, overflow }).toEqual({ tab, overflow: 0 });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 30_000);

  test("nothing was requested from another host, and the page used only the API", () => {
    expect(blocked).toEqual([]);
    // The charts started from the daemon's 15-minute samples.
    expect(apiCalls).toContainEqual({ method: "GET", path: "/api/v1/dashboard/history", status: 200 });
  }, 30_000);
});

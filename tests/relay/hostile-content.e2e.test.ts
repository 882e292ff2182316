// End to end: markup from sources the page's owner does not control (a cloud client through the tunnel, an upstream's
// answers, the agent answering the relay's chat page) shown in headless Chromium: shown as text, never run; each page's CSP
// stops inline script even where a page would parse markup.
import { expect } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { openDashboard, launchChromium, type DashboardBrowser } from "../helpers/dashboard-browser.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

/** Every way in we try at once: an attribute handler, a closed script tag, an attribute break-out into SVG, a javascript: link. */
const payload = (tag: string) =>
  `${tag}:"><img src=x onerror="window.__pwned='${tag}'"></script><script>window.__pwned='${tag}'</script><svg onload="window.__pwned='${tag}'"><a href="javascript:window.__pwned='${tag}'">x</a>`;
const EVIL_MODEL = payload("upstream-model");
const EVIL_TOKEN = payload("upstream-token");
const EVIL_ERROR = payload("upstream-error");
const EVIL_PROMPT = payload("client-prompt");
const EVIL_HEADER = payload("client-header");
const EVIL_CLIENT_MODEL = payload("client-model");
const EVIL_VERSION = payload("upstream-version");
const EVIL_GARBAGE = payload("upstream-garbage");
/** A request target goes out byte for byte (no spaces allowed in it, so the payload does without). */
const EVIL_PATH = `/api/"><img/src=x/onerror=window.__pwned='client-path'><svg/onload=window.__pwned='client-path'>`;
/** A header name is a token, and a token may hold backticks (Bun lower-cases it): a secret-looking one is redacted. */
const EVIL_HEADER_NAME = "x-token-`pwned`";
const GOOD = "llama3.2:1b";
/**
 * Headers that act on the whole origin that answers them, not on the one answer: on the relay they would reach every
 * tunnel's clients and the chat page (wipe its storage, switch HSTS off, report visits elsewhere).
 */
const ORIGIN_WIDE = {
  "clear-site-data": '"cookies", "storage", "cache", "executionContexts"',
  "strict-transport-security": "max-age=0",
  nel: '{"report_to":"evil","max_age":31536000,"include_subdomains":true,"success_fraction":1.0}',
  "report-to": '{"group":"evil","max_age":31536000,"endpoints":[{"url":"https://collector.invalid/nel"}]}',
  "alt-svc": 'h2="collector.invalid:443"; ma=31536000',
};
const BROKEN = "broken:1b";

/** A second upstream that answers its health checks with markup that is not JSON: down, its parse error in an alert. */
function startBrokenOllama(same: string) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      // Inference (if the router still picks it before its first check) answers as the first upstream would.
      if (req.method === "POST") return fetch(same + url.pathname, { method: "POST", headers: req.headers, body: req.body });
      return new Response(EVIL_GARBAGE, { headers: { "content-type": "application/json" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

/** An Ollama that lies: a model named in markup, markup streamed as tokens, markup as an error message. */
function startHostileOllama() {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const tag = (name: string) => ({ name, model: name, modified_at: new Date().toISOString(), size: 1, digest: "0".repeat(64), details: { family: "llama", parameter_size: "1B", quantization_level: "Q4" } });
      if (path === "/api/version") return Response.json({ version: EVIL_VERSION });
      if (path === "/api/tags") return Response.json({ models: [tag(GOOD), tag(EVIL_MODEL), tag(BROKEN)] });
      if (path === "/api/ps") return Response.json({ models: [] });
      if (path === "/api/chat") {
        const body = (await req.json()) as { model: string; stream?: boolean };
        if (body.model === BROKEN) return Response.json({ error: EVIL_ERROR }, { status: 500 });
        if (body.model !== GOOD) return Response.json({ error: `model "${body.model}" not found` }, { status: 404 });
        const line = (o: unknown) => JSON.stringify(o) + "\n";
        const msg = (content: string, done: boolean) => ({ model: body.model, created_at: new Date().toISOString(), message: { role: "assistant", content }, done, ...(done ? { done_reason: "stop", eval_count: 2 } : {}) });
        if (body.stream === false) return Response.json(msg(EVIL_TOKEN, true));
        return new Response(line(msg(EVIL_TOKEN.slice(0, 20), false)) + line(msg(EVIL_TOKEN.slice(20), false)) + line(msg("", true)), { headers: { "content-type": "application/x-ndjson", ...ORIGIN_WIDE } });
      }
      return Response.json({ error: "not found" }, { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

let upstream: ReturnType<typeof startHostileOllama>;
let broken: ReturnType<typeof startBrokenOllama>;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  upstream = startHostileOllama();
  broken = startBrokenOllama(upstream.url);
  relay = await startRelayProc(relayToml());
  const toml = `${daemonToml({ upstream: upstream.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` })}[[upstreams]]\nname = "beta"\nurl = "${broken.url}"\n[dashboard]\ncapture_bodies = true\n[alerts]\nnotifications = false\nupstream_down_after = "1s"\n`;
  daemon = await startAgentDaemon(toml);
  // The broker learns the upstream's models from its first health check.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length === 3) break;
    await Bun.sleep(100);
  }
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await relay?.stop();
  upstream?.stop();
  broken?.stop();
  cleanup(relay?.dir);
  if (daemon) removeHome(daemon.home);
}, 30_000);

/** Nothing injected ran, and no element the payloads would create exists. */
async function expectNothingRan(page: Page): Promise<void> {
  // Long enough for a broken image's onerror to fire had one been parsed.
  await Bun.sleep(300);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned ?? null)).toBeNull();
  expect(await page.locator('img[src="x"], svg[onload], a[href^="javascript:"], script:not([src])').count()).toBe(0);
}

/**
 * Depth behind the escaping: markup parsed into the live page (as a page bug would) runs no inline handler or script,
 * because the CSP forbids it; the browser reports the violations, so this cannot pass by the markup never loading.
 */
async function expectCspBlocksInline(page: Page): Promise<void> {
  const result = await page.evaluate(async () => {
    const w = window as unknown as { __csp?: string };
    const violations: string[] = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
    const box = document.createElement("div");
    box.innerHTML = `<img src="data:," onerror="window.__csp='img'"><svg><image href="data:," onerror="window.__csp='svg'"></image></svg>`;
    document.body.append(box);
    const s = document.createElement("script");
    s.textContent = "window.__csp='script'";
    document.body.append(s);
    await new Promise((r) => setTimeout(r, 300));
    box.remove();
    s.remove();
    return { ran: w.__csp ?? null, violations };
  });
  expect(result.ran).toBeNull();
  expect(result.violations.some((v) => v.startsWith("script-src"))).toBe(true);
}

describe("hostile content on the daemon's dashboard", () => {
  let dash: DashboardBrowser;

  beforeAll(async () => {
    // A cloud client calls through the tunnel with markup in its prompt, a header and its model name.
    const call = (model: string, stream: boolean) =>
      fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
        method: "POST",
        headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json", "x-evil": EVIL_HEADER },
        body: JSON.stringify({ model, stream, messages: [{ role: "user", content: EVIL_PROMPT }] }),
      });
    for (const [model, stream] of [[GOOD, true], [EVIL_CLIENT_MODEL, false], [BROKEN, false]] as const) await (await call(model, stream)).text();
    // And a path in markup, sent raw (a fetch would percent-encode it): refused in JSON, the path percent-encoded in it.
    const raw = await rawRequest(relay.port, "GET", `/t/${TUNNEL_ID}${EVIL_PATH}`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect(raw.status).toBe(403);
    expect(raw.headers["content-type"]).toStartWith("application/json");
    expect(raw.body).not.toContain("<");
    // A header name that would run a command in a shell (the test's shell defines `pwned`).
    const named = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}/api/chat`, {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json", [EVIL_HEADER_NAME]: "v", "x-mark": "named" },
      body: JSON.stringify({ model: GOOD, stream: false, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(named.status).toBe(200);
    dash = await openDashboard(daemon);
  }, 60_000);

  afterAll(async () => {
    await dash?.close();
  });

  test("the page comes with a CSP that forbids inline script, and the browser enforces it", async () => {
    const res = await dash.page.reload();
    const csp = res!.headers()["content-security-policy"]!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await dash.page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    await expectCspBlocksInline(dash.page);
  }, 30_000);

  test("an upstream cannot sign this browser out of the dashboard: its Clear-Site-Data stops at the broker", async () => {
    // Cookies ignore ports: a Clear-Site-Data "cookies" on the broker's answer (127.0.0.1:broker) would clear the
    // dashboard's session cookie (127.0.0.1:api) too. Any page using the broker in this browser would carry it (a
    // local web UI, Swagger's Try it out); here a page of the broker's origin itself.
    const broker = daemon.urls.broker!;
    const res = await fetch(`${broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: GOOD, messages: [{ role: "user", content: "x" }] }) });
    await res.text();
    expect(res.status).toBe(200);
    for (const name of Object.keys(ORIGIN_WIDE)) expect({ name, value: res.headers.get(name) }).toEqual({ name, value: null });

    const page = await dash.context.newPage();
    await page.goto(`${broker}/`);
    const sessionCookie = async () => (await dash.context.cookies()).map((c) => c.name).filter((n) => n.startsWith("c2l_"));
    const before = await sessionCookie();
    expect(before.length).toBe(1);
    const status = await page.evaluate(async (m) => (await fetch("/api/chat", { method: "POST", body: JSON.stringify({ model: m, messages: [{ role: "user", content: "x" }] }) })).status, GOOD);
    expect(status).toBe(200);
    await Bun.sleep(300);
    expect(await sessionCookie()).toEqual(before);
    await page.close();
  }, 30_000);

  test("Copy as curl of a request whose header name holds backticks: pasted into a shell, the line runs nothing", async () => {
    const page = dash.page;
    await page.locator("#tab-requests").click();
    const row = page.locator("#requests-body tr").filter({ hasText: "tunnel" });
    await page.waitForFunction(() => document.querySelectorAll("#requests-body tr").length >= 5, undefined, { timeout: 10_000 });
    let line = "";
    for (let i = 0; i < (await row.count()) && !line; i++) {
      await row.nth(i).locator("button").click();
      await page.waitForFunction((id) => document.querySelector("#request-fields dd")?.textContent === id, await row.nth(i).getAttribute("data-request"));
      if (!(await page.locator("#request-headers-req").textContent())!.includes("named")) continue;
      await page.locator("#request-copy-curl").click();
      line = (await page.locator("#request-curl").textContent())!;
    }
    expect(line).toContain("pwned");
    const dir = mkdtempSync(join(tmpdir(), "c2l-curl-"));
    try {
      // curl prints its words; `pwned` leaves a file if the shell ever runs it.
      const run = Bun.spawnSync(["bash", "-c", `curl() { printf '%s\\n' "$@"; }; pwned() { touch .pwned; }; C2L_SECRET_1=s; ${line}`], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      expect({ line, files: readdirSync(dir) }).toEqual({ line, files: [] });
      expect(run.stdout.toString().split("\n")).toContain(`${EVIL_HEADER_NAME}: s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await page.locator("#tab-overview").click();
  }, 30_000);

  test("an upstream's model named in markup is listed as text in the overview", async () => {
    const page = dash.page;
    await page.waitForFunction((m) => [...document.querySelectorAll("ul.models li")].some((li) => li.textContent === m), EVIL_MODEL, { timeout: 10_000 });
    await expectNothingRan(page);
  }, 30_000);

  test("an upstream's health-check answers in markup (its version, a body that is not JSON): text in the overview and its alert", async () => {
    const page = dash.page;
    await page.locator("[data-alert]", { hasText: "Upstream beta has been down" }).waitFor({ timeout: 15_000 });
    await page.waitForFunction((v) => (document.querySelector("#panel-overview")?.textContent ?? "").includes(v), EVIL_VERSION, { timeout: 10_000 });
    await expectNothingRan(page);
  }, 30_000);

  test("a client's prompt, header and model, an upstream's tokens and error: text in the inspector and usage, nothing runs", async () => {
    const page = dash.page;
    await page.locator("#tab-requests").click();
    await page.waitForFunction(() => document.querySelectorAll("#requests-body tr").length >= 3, undefined, { timeout: 10_000 });
    const rows = page.locator("#requests-body tr");
    const seen: string[] = [];
    for (let i = 0; i < (await rows.count()); i++) {
      await rows.nth(i).locator("button").click();
      await page.locator("#request-detail").waitFor();
      // The panel shows the row just opened (its fields are replaced on each click).
      await page.waitForFunction((id) => document.querySelector("#request-fields dd")?.textContent === id, await rows.nth(i).getAttribute("data-request"));
      seen.push((await page.locator("#request-detail").textContent())!);
      await expectNothingRan(page);
    }
    const all = seen.join("\n") + (await page.locator("#requests-body").textContent());
    // Headers and the model as they came; bodies as their JSON text (quotes escaped), the streamed token split in two lines.
    for (const p of [EVIL_HEADER, EVIL_CLIENT_MODEL, ...[EVIL_PROMPT, EVIL_ERROR, EVIL_TOKEN.slice(20)].map((x) => JSON.stringify(x).slice(1, -1))]) expect(all).toContain(p);
    await page.locator("#tab-gateway").click();
    // Usage by model (chart legend, bars' labels and the table) names the client's model as it came.
    await page.waitForFunction((m) => (document.querySelector("#panel-gateway")?.textContent ?? "").includes(m), EVIL_CLIENT_MODEL, { timeout: 10_000 });
    await expectNothingRan(page);
    await page.locator("#tab-overview").click();
    await expectNothingRan(page);
  }, 60_000);
});

describe("hostile answers on the relay's chat page", () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
  });

  async function connected(): Promise<Page> {
    const page = await browser.newPage();
    const res = await page.goto(`${relay.url}/chat`);
    const csp = res!.headers()["content-security-policy"]!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await page.locator("#tunnel-id").fill(TUNNEL_ID);
    await page.locator("#client-key").fill(CLIENT_KEY);
    await page.locator("#connect-button").click();
    await page.locator("#chat").waitFor({ state: "visible" });
    return page;
  }

  async function ask(page: Page, model: string, prompt: string): Promise<void> {
    await page.locator("#model").selectOption(model);
    await page.locator("#prompt").fill(prompt);
    await page.locator("#send").click();
  }

  test("model names, streamed tokens and the user's own markup are shown as text; the CSP blocks inline script", async () => {
    const page = await connected();
    expect(await page.locator("#model option").allTextContents()).toEqual([GOOD, EVIL_MODEL, BROKEN]);
    await ask(page, GOOD, EVIL_PROMPT);
    await page.locator("#status", { hasText: "Done" }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#messages li.user").last().textContent()).toBe(EVIL_PROMPT);
    expect(await page.locator("#messages li.assistant").last().textContent()).toBe(EVIL_TOKEN);
    await expectNothingRan(page);
    await expectCspBlocksInline(page);
    await page.close();
  }, 30_000);

  test("headers that act on the relay's whole origin do not come through from a tunnel: the chat page's storage survives", async () => {
    const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: GOOD, messages: [{ role: "user", content: "hi" }] }),
    });
    await res.text();
    expect(res.status).toBe(200);
    for (const name of Object.keys(ORIGIN_WIDE)) expect({ name, value: res.headers.get(name) }).toEqual({ name, value: null });

    // In the browser: what this origin keeps (another tab's sign-in, the saved key) is still there after the answer.
    const page = await connected();
    await page.evaluate(() => localStorage.setItem("kept", "yes"));
    await ask(page, GOOD, "hello");
    await page.locator("#status", { hasText: "Done" }).waitFor({ timeout: 10_000 });
    await Bun.sleep(300);
    expect(await page.evaluate(() => [localStorage.getItem("kept"), sessionStorage.getItem("c2l-chat") !== null])).toEqual(["yes", true]);
    await page.close();
  }, 30_000);

  test("a link anyone can send, a forged sign-in answer with markup in error_description: shown as text, nothing runs", async () => {
    // A relay that offers sign-in (the page only reads the answer's error: the issuer is never asked).
    const oidc = `[oidc]\nissuer = "http://127.0.0.1:9"\naudience = "relay"\nchat_client_id = "chat"\n`;
    const signInRelay = await startRelayProc(relayToml({ extra: oidc }));
    try {
      const page = await browser.newPage();
      const evil = payload("link");
      await page.goto(`${signInRelay.url}/chat?error=access_denied&error_description=${encodeURIComponent(evil)}`);
      const err = page.locator("#error");
      await err.waitFor({ state: "visible", timeout: 10_000 });
      expect(await err.textContent()).toBe(`the sign-in server refused: ${evil}`);
      await expectNothingRan(page);
      await page.close();
    } finally {
      await signInRelay.stop();
      cleanup(signInRelay.dir);
    }
  }, 30_000);

  test("an upstream's error message in markup is shown as text", async () => {
    const page = await connected();
    await ask(page, BROKEN, "hello");
    const err = page.locator("#error");
    await err.waitFor({ state: "visible", timeout: 10_000 });
    expect(await err.textContent()).toContain(EVIL_ERROR);
    await expectNothingRan(page);
    await page.close();
  }, 30_000);
});

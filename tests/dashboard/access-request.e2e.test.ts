// End to end: a bookmark of the dashboard (no session) asks for access from the page; the owner approves its code with
// the CLI (the token); only that browser gets in, once. Headless Debian Chromium against the compiled binary's daemon.
import { expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext } from "playwright-core";
import { launchChromium, launchChromiumContext } from "../helpers/dashboard-browser.ts";
import { requireTools } from "../helpers/requires.ts";
import { ensureBinary } from "../helpers/binary.ts";
import { TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);


let daemon: DaemonProc;
let binary: string;
let api: string;
let token: string;
let browser: Browser;
let owner: BrowserContext;
let stranger: BrowserContext;
let userDataDir: string;

function cli(...args: string[]) {
  const r = Bun.spawnSync([binary, "dashboard", ...args, "--url", api], { env: daemon.env, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

beforeAll(async () => {
  binary = await ensureBinary();
  daemon = await startDaemon({ binary, config: `${TEST_DAEMON_TOML}[alerts]\nnotifications = false\n`, waitFor: ["api"] });
  api = daemon.urls.api!;
  token = readFileSync(join(daemon.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  userDataDir = mkdtempSync(join(tmpdir(), "c2l-chromium-"));
  owner = await launchChromiumContext(userDataDir);
  browser = owner.browser()!;
  stranger = await launchChromium().then((b) => b.newContext());
}, 180_000);

afterAll(async () => {
  await owner?.close().catch(() => {});
  await stranger?.browser()?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await daemon?.stop();
  if (daemon) removeHome(daemon.home);
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}, 30_000);

describe("a bookmarked dashboard asks for access (issue 24 item 9)", () => {
  test("the bare URL offers Ask for access; the owner approves the page's code with the CLI and the page gets in, once", async () => {
    const page = owner.pages()[0] ?? (await owner.newPage());
    const bare = await page.goto(`${api}/`);
    expect(bare?.status()).toBe(401);
    await page.locator("#ask-access").click();
    await page.waitForURL(`${api}/auth/wait`);
    const code = (await page.locator("#access-code").textContent())!.trim();
    expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);

    // Another browser on this machine asks too: it gets its own code, and nothing from the owner's approval.
    const other = await stranger.newPage();
    await other.goto(`${api}/`);
    await other.locator("#ask-access").click();
    await other.waitForURL(`${api}/auth/wait`);
    const otherCode = (await other.locator("#access-code").textContent())!.trim();
    expect(otherCode).not.toBe(code);

    // The owner sees both waiting (the CLI holds the token) ...
    const listed = cli("approve");
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(code);
    expect(listed.out).toContain(otherCode);
    // ... a guessed code is refused and lets no one in ...
    const guess = code === "ABCD-EFGH" ? "HGFE-DCBA" : "ABCD-EFGH";
    const guessed = cli("approve", guess);
    expect(guessed.code).toBe(1);
    expect(guessed.err).toContain(`no dashboard access request is waiting with code "${guess}"`);
    // ... and without the token nobody approves anything (the page's own origin, no Authorization).
    const self = await other.evaluate(async (c) => (await fetch("/api/v1/dashboard/approve", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: c }) })).status, otherCode);
    expect(self).toBe(401);
    expect((await owner.request.get(`${api}/`)).status()).toBe(401);

    // The owner approves the page's code (typed loosely): the waiting page moves on to the dashboard by itself.
    const approved = cli("approve", code.toLowerCase());
    expect(approved.code).toBe(0);
    await page.waitForURL((u) => u.pathname === "/", { timeout: 10_000 });
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    const cookies = await owner.cookies(api);
    expect(cookies.find((c) => c.name === "c2l_session")?.httpOnly).toBe(true);
    expect(cookies.find((c) => c.name === "c2l_access")).toBeUndefined();
    expect(cookies.some((c) => c.value.includes(token))).toBe(false);

    // One-time: the same code again is refused; the unapproved browser still waits, outside.
    expect(cli("approve", code).code).toBe(1);
    await Bun.sleep(2500);
    expect(other.url()).toBe(`${api}/auth/wait`);
    expect(await other.locator("#access-code").textContent()).toBe(otherCode);
    expect((await stranger.request.get(`${api}/`)).status()).toBe(401);
    expect((await stranger.request.get(`${api}/api/v1/requests`)).status()).toBe(401);
    // A dashboard session cannot approve the stranger either: approval needs the token.
    const viaSession = await page.evaluate(async (c) => {
      const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')!.content;
      return (await fetch("/api/v1/dashboard/approve", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify({ code: c }) })).status;
    }, otherCode);
    expect(viaSession).toBe(401);
    expect(cli("approve").out).toContain(otherCode);
  }, 60_000);

  test("a form on another origin cannot raise a request; asking too often is refused", async () => {
    const foreign = await fetch(`${api}/auth/request`, { method: "POST", headers: { origin: "http://127.0.0.1:1" }, redirect: "manual" });
    expect(foreign.status).toBe(403);
    const noOrigin = await fetch(`${api}/auth/request`, { method: "POST", redirect: "manual" });
    expect(noOrigin.status).toBe(403);
    // Four may wait at once (the stranger's already does), six a minute.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${api}/auth/request`, { method: "POST", headers: { origin: api }, redirect: "manual" })).status);
    expect(statuses).toEqual([303, 303, 303, 429, 429]);
  }, 30_000);
});

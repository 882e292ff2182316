// Opens the dashboard of a test daemon in headless Debian Chromium (playwright-core), signed in through `dashboard --print-url`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { BUN, REPO, type DaemonProc } from "./daemon.ts";

/** No sandbox (containers), no GPU, and nothing that phones home during a test. */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/**
 * Chromium's own HOME, XDG config/cache dirs and runtime dir, made per launch: crashpad keeps its "Crash Reports"
 * database under $XDG_CONFIG_HOME/chromium whatever --user-data-dir says (no switch turns it off), and dconf writes
 * $XDG_RUNTIME_DIR/dconf; a test's browser must leave the user's own dirs (and root's, in CI) as they were.
 */
function ownHome(): { env: Record<string, string>; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "c2l-chromium-home-"));
  const env = { ...(process.env as Record<string, string>), HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_CACHE_HOME: join(dir, "cache"), XDG_DATA_HOME: join(dir, "data"), XDG_RUNTIME_DIR: dir };
  return { env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Headless Debian Chromium with CHROMIUM_ARGS (or `args`) in its own HOME, removed when the browser goes. */
export async function launchChromium(args: string[] = CHROMIUM_ARGS): Promise<Browser> {
  const home = ownHome();
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args, env: home.env }).catch((e) => {
    home.remove();
    throw e;
  });
  browser.on("disconnected", home.remove);
  return browser;
}

/** As launchChromium, with a persistent profile in `userDataDir` (the caller's to remove). */
export async function launchChromiumContext(userDataDir: string, options: Omit<NonNullable<Parameters<typeof chromium.launchPersistentContext>[1]>, "executablePath" | "env"> = {}): Promise<BrowserContext> {
  const home = ownHome();
  const context = await chromium.launchPersistentContext(userDataDir, { args: CHROMIUM_ARGS, ...options, executablePath: "/usr/bin/chromium", env: home.env }).catch((e) => {
    home.remove();
    throw e;
  });
  context.on("close", home.remove);
  return context;
}

export interface DashboardBrowser {
  context: BrowserContext;
  page: Page;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Launches Chromium with a fresh profile and opens the one-time link `dashboard --print-url` prints for `daemon` (the
 * compiled `binary` when given, else `bun src/main.ts`, like the daemon itself); resolves once the page is live.
 */
export async function openDashboard(daemon: DaemonProc, opts: { binary?: string; viewport?: { width: number; height: number } } = {}): Promise<DashboardBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), "c2l-chromium-"));
  const context = await launchChromiumContext(userDataDir, { viewport: opts.viewport ?? { width: 1400, height: 900 }, colorScheme: "light" });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  };
  try {
    const cli = opts.binary ? [opts.binary] : [BUN, join(REPO, "src/main.ts")];
    const link = Bun.spawnSync([...cli, "dashboard", "--print-url", "--url", daemon.urls.api!], { env: daemon.env, stdout: "pipe", stderr: "pipe" });
    if (link.exitCode !== 0) throw new Error(`dashboard --print-url failed (exit ${link.exitCode}): ${link.stderr.toString()}`);
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(link.stdout.toString().trim());
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    return { context, page, close };
  } catch (e) {
    await close();
    throw e;
  }
}

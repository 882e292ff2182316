// Opens the dashboard of a test daemon in headless Debian Chromium (playwright-core), signed in through `dashboard --print-url`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { BUN, REPO, type DaemonProc } from "./daemon.ts";

/** No sandbox (containers), no GPU, and nothing that phones home during a test. */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

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
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, viewport: opts.viewport ?? { width: 1400, height: 900 }, colorScheme: "light" });
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

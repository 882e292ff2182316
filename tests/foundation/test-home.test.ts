// The suite leaves the user's own dirs alone: Chromium runs only through the helper that gives it its own HOME and XDG dirs.
import { expect } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Glob } from "bun";
import { requireTools } from "../helpers/requires.ts";
import { codeOnly } from "../helpers/test-sources.ts";
import { launchChromium, launchChromiumContext } from "../helpers/dashboard-browser.ts";

const { test } = requireTools(["chromium"]);

const REPO = join(import.meta.dir, "../..");
const HELPER = "tests/helpers/dashboard-browser.ts";

/** Places that start a browser with playwright-core directly (not through HELPER): it would use the user's HOME. */
function directLaunches(path: string, src = readFileSync(path, "utf8")): string[] {
  const code = codeOnly(src);
  return [...code.matchAll(/\.\s*(launch|launchPersistentContext|launchServer)\s*\(/g)]
    .filter((m) => /\bchromium\s*$/.test(code.slice(0, m.index)))
    .map((m) => `${relative(REPO, path)}:${src.slice(0, m.index).split("\n").length} chromium.${m[1]}`);
}

test("no test starts Chromium but through tests/helpers/dashboard-browser.ts (launchChromium, launchChromiumContext)", () => {
  const files = [...new Glob("{src,tests,tray,scripts,packaging,bench}/**/*.ts").scanSync(REPO)].filter((f) => f !== HELPER).map((f) => join(REPO, f));
  expect(files.length).toBeGreaterThan(100);
  expect(files.flatMap((f) => directLaunches(f))).toEqual([]);
  // The check can fail, and sees through strings and comments.
  const sample = ['const b = await chromium.launch({ args });', "// chromium.launch(", 'const s = "chromium.launchPersistentContext(";', "await chromium\n  .launchPersistentContext(dir, {});"].join("\n");
  expect(directLaunches(join(REPO, "x.test.ts"), sample)).toEqual(["x.test.ts:1 chromium.launch", "x.test.ts:5 chromium.launchPersistentContext"]);
});

test("Chromium started by the helper writes nothing into HOME, $XDG_CONFIG_HOME or $XDG_RUNTIME_DIR (no Crash Reports, no dconf)", async () => {
  // The user's dirs, as this process sees them: a fresh empty one stands in for all of them.
  const user = mkdtempSync(join(tmpdir(), "c2l-user-home-"));
  const profile = mkdtempSync(join(tmpdir(), "c2l-chromium-"));
  const keys = ["HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"] as const;
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  process.env.HOME = user;
  process.env.XDG_RUNTIME_DIR = user;
  try {
    const browser = await launchChromium();
    await (await browser.newPage()).goto("about:blank");
    await browser.close();
    const context = await launchChromiumContext(profile);
    await (context.pages()[0] ?? (await context.newPage())).goto("about:blank");
    await context.close();
    expect(readdirSync(user, { recursive: true })).toEqual([]);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(user, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}, 60_000);

// npm 11 runs a dependency's install script only with a decision in package.json's allowScripts, and warns about every
// undecided one: a newcomer's `npm ci` must print no warning, so each package in the lockfile that has a script is decided.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../helpers/daemon.ts";

const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; hasInstallScript?: boolean }> };

/** Every package in the lockfile with an install script, as name@version. */
function withScripts(): { name: string; version: string }[] {
  return Object.entries(lock.packages)
    .filter(([path, p]) => path && p.hasInstallScript)
    .map(([path, p]) => ({ name: path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length), version: p.version ?? "" }));
}

/** The allowScripts entry that decides for this package: by name, or pinned to its version. */
const decision = (name: string, version: string) => pkg.allowScripts?.[name] ?? pkg.allowScripts?.[`${name}@${version}`];

test("every dependency with an install script is allowed or denied in package.json's allowScripts", () => {
  const scripts = withScripts();
  expect(scripts.length).toBeGreaterThan(0);
  expect(scripts.filter((s) => decision(s.name, s.version) === undefined).map((s) => `${s.name}@${s.version}`)).toEqual([]);
});

test("bun's postinstall runs (it puts the native binary in place of a placeholder); analytics and native builds do not", () => {
  // Without it node_modules/.bin/bun is a 450-byte script that says "Bun's postinstall script was not run".
  expect(decision("bun", "")).toBe(true);
  // swagger-ui-dist's usage analytics (a network call at install time).
  expect(decision("@scarf/scarf", "")).toBe(false);
  // dbus-next's optional native socket: a node-gyp build that needs a compiler and Node's headers; dbus-next falls back to net.
  expect(decision("usocket", "")).toBe(false);
});

// The same question asked of npm itself, when it is one that knows allowScripts (11.x): nothing left to review.
// npm writes a debug log into its cache (_logs/) on each run: this file's own cache, not the user's ~/.npm.
const npmCache = mkdtempSync(join(tmpdir(), "c2l-npm-cache-"));
afterAll(() => rmSync(npmCache, { recursive: true, force: true }));
const npmEnv = { ...process.env, npm_config_cache: npmCache };
const npmVersion = Bun.spawnSync(["npm", "--version"], { stdout: "pipe", stderr: "pipe", env: npmEnv }).stdout?.toString().trim() ?? "";
const knowsAllowScripts = /^(\d+)\./.test(npmVersion) && Bun.spawnSync(["npm", "help", "install-scripts"], { stdout: "pipe", stderr: "pipe", env: { ...npmEnv, MANPAGER: "cat", PAGER: "cat" } }).exitCode === 0;
test.skipIf(!knowsAllowScripts)("npm install-scripts ls finds nothing unreviewed in the installed tree", () => {
  const r = Bun.spawnSync(["npm", "install-scripts", "ls"], { cwd: REPO, stdout: "pipe", stderr: "pipe", env: npmEnv });
  expect(r.stdout.toString() + r.stderr.toString()).toContain("No packages with unreviewed install scripts.");
}, 60_000);

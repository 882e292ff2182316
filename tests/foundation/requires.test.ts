// The README's test command on a machine without some system tool: the tests that need it skip naming the tool and its
// apt-get line, the run lists them at the end and passes; under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1 (.ci/run) they fail.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { REPO } from "../helpers/daemon.ts";
import { REQUIRE_TOOLS_ENV, SKIP_LOG_ENV } from "../helpers/skip-log.ts";
import { SYSTEM_TOOLS, aptPackages } from "../helpers/system-tools.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A PATH with everything the current one has except `hidden`: one directory of links. */
function pathWithout(hidden: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "c2l-path-"));
  dirs.push(dir);
  for (const d of (process.env.PATH ?? "").split(":")) {
    if (!d || !existsSync(d)) continue;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (hidden.includes(n) || existsSync(join(dir, n))) continue;
      try {
        symlinkSync(join(d, n), join(dir, n));
      } catch {
        // a name linked by an earlier PATH entry wins, as in PATH itself
      }
    }
  }
  return dir;
}

/** `npm test -- FILE` as the README runs it (scripts/test.ts), with `env` over a clean copy of ours. */
async function runSuite(file: string, env: Record<string, string>) {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base[REQUIRE_TOOLS_ENV]; // .ci/run sets it for the whole suite; each case here decides
  delete base[SKIP_LOG_ENV]; // the inner run keeps its own log
  const p = Bun.spawn([process.execPath, "scripts/test.ts", file], { cwd: REPO, env: { ...base, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err, all: out + err };
}

// A real test file with one test that needs ImageMagick (identify and convert) and many that need nothing.
const FILE = "src/desktop/icons/icons.test.ts";
const TEST = "PNG decodes with ImageMagick to exactly the rendered pixels";

test("with ImageMagick hidden from PATH the suite passes: the test skips naming the tool, and the run lists it with the apt-get line", async () => {
  const r = await runSuite(FILE, { PATH: pathWithout(["identify", "convert"]) });
  expect(r.err).toContain(`(skip) icons > ${TEST} — needs identify, convert (apt-get install imagemagick)`);
  expect(r.out).toContain(
    ["Skipped because a system tool is missing:", "  identify, convert — apt-get install imagemagick — 1 test:", `      ${FILE} › ${TEST}`, "Install them all: sudo apt-get install imagemagick"].join("\n"),
  );
  expect(r.out).toMatch(/\ntests: [1-9]\d* passed, 0 failed, 1 skipped\n$/);
  expect(r.code).toBe(0);
}, 60_000);

test(`under ${REQUIRE_TOOLS_ENV}=1 (as .ci/run sets it) the same run fails, naming the missing tool`, async () => {
  const r = await runSuite(FILE, { PATH: pathWithout(["identify", "convert"]), [REQUIRE_TOOLS_ENV]: "1" });
  expect(r.err).toContain(`error: needs identify, convert (apt-get install imagemagick), which this machine lacks; ${REQUIRE_TOOLS_ENV}=1 makes that a failure instead of a skip`);
  expect(r.err).toContain(`(fail) icons > ${TEST}`);
  expect(r.out).toContain(`Failed because a system tool is missing (${REQUIRE_TOOLS_ENV}=1 makes it a failure, not a skip):\n  identify, convert — apt-get install imagemagick — 1 test:`);
  expect(r.out).toMatch(/\ntests: \d+ passed, 1 failed, 0 skipped\n$/);
  expect(r.code).not.toBe(0);
}, 60_000);

test("a file whose every test needs a missing tool runs none of its hooks and passes: nothing starts the tool", async () => {
  // Every test here needs dbus-daemon, and its beforeAll starts one: hidden, nothing may try to run it.
  const r = await runSuite("tests/secrets/abstract-bus.test.ts", { PATH: pathWithout(["dbus-daemon"]) });
  expect(r.all).not.toContain("Executable not found");
  expect(r.out).toContain("  dbus-daemon — apt-get install dbus — 1 test:");
  expect(r.out).toMatch(/\ntests: 0 passed, 0 failed, 1 skipped\n$/);
  expect(r.code).toBe(0);
}, 60_000);

test(".ci/run installs exactly the packages of the tool table, then runs `npm test` with every test required to run", () => {
  const ci = readFileSync(join(REPO, ".ci/run"), "utf8");
  expect(ci).toContain("mapfile -t APT_PACKAGES < <(node_modules/.bin/bun tests/helpers/system-tools.ts --apt-packages)");
  expect(ci).toMatch(/apt-get install -y -qq --no-install-recommends "\$\{missing\[@\]\}"/);
  // npm ci comes first (it brings the Bun that prints the list); the variable is set before the test command.
  const order = ["npm ci", "--apt-packages", `export ${REQUIRE_TOOLS_ENV}=1`, "\nnpm test\n"].map((s) => ci.indexOf(s));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  const printed = Bun.spawnSync([process.execPath, "tests/helpers/system-tools.ts", "--apt-packages"], { cwd: REPO, stdout: "pipe" });
  expect(printed.stdout.toString().trim().split("\n")).toEqual(aptPackages());
  expect(aptPackages()).toContain("prometheus");
});

// ---- Nothing in the suite needs a tool silently: every test file that runs a tool from the table declares it. ----

const SPAWN = /spawn(?:Sync)?\(\s*\[\s*"([^"/]+)"/g;
const IMPORT = /^import\s[^;]*?from\s+"(\.[^"]+)"/gm;
/** Names a need list stands for when a file passes it instead of writing the tools out. */
const NAMED_NEEDS: Record<string, string[]> = { NETNS_NEEDS: ["unshare", "ip"] };

/** Table tools run by `file` itself or by the test helpers it imports (tests/ only: product code copes with missing tools on its own). */
function toolsRun(file: string, root = join(REPO, "tests"), seen = new Set<string>()): Set<string> {
  const tools = new Set<string>();
  if (seen.has(file) || !existsSync(file)) return tools;
  seen.add(file);
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(SPAWN)) if (m[1]! in SYSTEM_TOOLS) tools.add(m[1]!);
  if (text.includes('from "playwright-core"')) tools.add("chromium");
  for (const m of text.matchAll(IMPORT)) {
    const dep = resolve(dirname(file), m[1]!);
    if (relative(root, dep).startsWith("..")) continue;
    for (const t of toolsRun(dep, root, seen)) tools.add(t);
  }
  return tools;
}

/** Tools named in the file's requireTools([...]) calls. */
function toolsDeclared(text: string): Set<string> {
  const declared = new Set<string>();
  for (const m of text.matchAll(/requireTools\(\s*(\[[^\]]*\]|\w+)/g)) {
    const arg = m[1]!;
    for (const n of NAMED_NEEDS[arg] ?? []) declared.add(n);
    for (const s of arg.matchAll(/"([^"]+)"/g)) declared.add(s[1]!);
  }
  return declared;
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name.startsWith(".") ? [] : testFiles(p);
    return e.name.endsWith(".test.ts") ? [p] : [];
  });
}

test("every test file that runs a system tool (itself or through a test helper) declares it with requireTools", () => {
  // This file is left out: its fixtures spell tool names in strings.
  const files = ["src", "tests", "tray", "bench", "scripts"]
    .filter((d) => existsSync(join(REPO, d)))
    .flatMap((d) => testFiles(join(REPO, d)))
    .filter((f) => f !== import.meta.path);
  const undeclared: string[] = [];
  let guarded = 0;
  for (const f of files) {
    const needed = toolsRun(f);
    const declared = toolsDeclared(readFileSync(f, "utf8"));
    const missing = [...needed].filter((t) => !declared.has(t));
    if (missing.length) undeclared.push(`${relative(REPO, f)}: ${missing.join(", ")}`);
    if (needed.size) guarded++;
  }
  expect(undeclared).toEqual([]);
  // The scan sees what it should: dozens of files run dbus-daemon, promtool, Chromium, systemd-analyze...
  expect(guarded).toBeGreaterThan(20);
});

test("the scan catches an undeclared tool, also one run by an imported helper", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-scan-"));
  dirs.push(dir);
  const helper = join(dir, "helper.ts");
  const file = join(dir, "x.fixture.ts");
  writeFileSync(helper, 'export const run = () => Bun.spawnSync(["lintian", "x.deb"]);\n');
  writeFileSync(file, 'import { run } from "./helper.ts";\nimport { requireTools } from "../helpers/requires.ts";\nrequireTools(["promtool"]).test("t", () => { Bun.spawn(["promtool"]); run(); });\n');
  expect([...toolsRun(file, dir)].sort()).toEqual(["lintian", "promtool"]);
  expect([...toolsDeclared(readFileSync(file, "utf8"))]).toEqual(["promtool"]);
});

// The suite's own standard, read from its sources: every test asserts, none is focused (.only) or left skipped, no expect(…).rejects is left unawaited.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Glob } from "bun";
import { ASSERTS, assertingFunctions, callsAny, closing, codeOnly, testDeclarations } from "../helpers/test-sources.ts";

const REPO = join(import.meta.dir, "../..");
const FILES = [...new Glob("{src,tests,tray,scripts,packaging}/**/*.test.ts").scanSync(REPO)].sort().map((f) => join(REPO, f));

/** Tests that assert nothing: no expect, no wait that throws, no call of a helper (of the file, or imported) that does. */
function silentTests(path: string, src = readFileSync(path, "utf8")): string[] {
  const helpers = assertingFunctions(path);
  return testDeclarations(src)
    .filter((t) => !ASSERTS.test(t.body) && !callsAny(t.body, helpers))
    .map((t) => `${relative(REPO, path)}:${t.line} "${t.name}"`);
}

/** .only (focuses a run on one test: the rest silently never run) and .skip/.todo (a test that never runs; a test that needs a tool uses requireTools). */
function leftOver(path: string, src = readFileSync(path, "utf8")): string[] {
  const code = codeOnly(src);
  return [...code.matchAll(/(?<![\w$])(?:test|it|describe)\.(only|skip|todo)\s*\(/g)].map((m) => `${relative(REPO, path)}:${src.slice(0, m.index).split("\n").length} .${m[1]}`);
}

/** expect(…).rejects/.resolves not awaited nor returned: the test ends before the promise settles, so it cannot fail. */
function unawaited(path: string, src = readFileSync(path, "utf8")): string[] {
  const code = codeOnly(src);
  const out: string[] = [];
  for (const m of code.matchAll(/(?<![\w$.])expect\s*\(/g)) {
    const end = closing(code, m.index! + m[0].length - 1);
    if (/^\s*(?:\.\s*not)?\s*\.\s*(?:rejects|resolves)\b/.test(code.slice(end + 1, end + 40)) && !/(?:await|return)\s*$/.test(code.slice(0, m.index)))
      out.push(`${relative(REPO, path)}:${src.slice(0, m.index).split("\n").length}`);
  }
  return out;
}

test("the suite's test files are found and read: their tests, in the hundreds of files and thousands of tests", () => {
  expect(FILES.length).toBeGreaterThan(300);
  const tests = FILES.reduce((n, f) => n + testDeclarations(readFileSync(f, "utf8")).length, 0);
  expect(tests).toBeGreaterThan(1800);
});

test("every test asserts: an expect, a wait that fails on its timeout (until, waitFor…), or a helper that does", () => {
  expect(FILES.flatMap((f) => silentTests(f))).toEqual([]);
});

test("no test is focused with .only or left behind with .skip or .todo (a test that needs a tool uses requireTools)", () => {
  expect(FILES.flatMap((f) => leftOver(f))).toEqual([]);
});

test("every expect(…).rejects and .resolves is awaited or returned", () => {
  expect(FILES.flatMap((f) => unawaited(f))).toEqual([]);
});

test("the checks above can fail: they find a silent test, .only, .skip, an unawaited rejects, and see through strings and comments", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-hygiene-"));
  try {
    writeFileSync(join(dir, "helper.ts"), "import { expect } from 'bun:test';\nexport function checkIt(x: number) { expect(x).toBe(1); }\nexport function quiet() {}\n");
    const src = [
      'import { expect, test } from "bun:test";',
      'import { checkIt, quiet as q } from "./helper.ts";',
      "const local = async (p: { a: number }) => { await until(() => p.a); };",
      'test("asserts", () => { expect(1).toBe(1); });',
      'test("through an imported helper", () => checkIt(1));',
      'test("through a local helper", async () => { await local({ a: 1 }); });',
      'test("a silent one", () => { q(); const s = "expect(1)"; /* expect(2) */ // expect(3)\n});',
      'test(`silent in a template ${"x"}`, async () => { const t = `expect(${1})`; });',
      'requireTools(["git"]).test("a guarded silent one", () => { const x = /expect\\(/; });',
      'test.only("focused", () => { expect(1).toBe(1); });',
      'test.skip("skipped", () => { expect(1).toBe(1); });',
      'const words = "test.only(";',
      'test("unawaited", async () => { expect(Promise.reject(new Error("x"))).rejects.toThrow(); await expect(Promise.resolve(1)).resolves.toBe(1); });',
    ].join("\n");
    const file = join(dir, "x.test.ts");
    writeFileSync(file, src);
    const names = silentTests(file, src).map((s) => s.replace(/^.*?"/, '"'));
    expect(names).toEqual(['"a silent one"', '"silent in a template ${"x"}"', '"a guarded silent one"']);
    expect(leftOver(file, src).map((s) => s.replace(/^.*:/, ""))).toEqual(["11 .only", "12 .skip"]);
    expect(unawaited(file, src).map((s) => s.replace(/^.*:/, ""))).toEqual(["14"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The whole-suite split: which invocations count as the whole suite, and that the files run alone exist.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ALONE_FILES, TIMINGS_FILE, isWholeSuite } from "./suite-plan.ts";

const REPO = join(import.meta.dir, "../..");

describe("suite plan", () => {
  test("no paths or name filters is the whole suite; any path or -t is a part of it, run as given", () => {
    expect(isWholeSuite([])).toBe(true);
    expect(isWholeSuite(["--timeout=60000", "--update-timings", "--bail"])).toBe(true);
    expect(isWholeSuite(["--timeout=60000", "tests/api"])).toBe(false);
    expect(isWholeSuite(["-t", "reload"])).toBe(false);
    expect(isWholeSuite(["--test-name-pattern=reload"])).toBe(false);
  });

  test("every file run alone exists (a renamed one would otherwise fail the run only at its end)", () => {
    for (const f of ALONE_FILES) expect(existsSync(join(REPO, f)), f).toBe(true);
  });

  test("the timings file is in the form bun test --timings reads", () => {
    const t = JSON.parse(readFileSync(join(REPO, TIMINGS_FILE), "utf8"));
    expect(t.version).toBe(1);
    expect(Object.keys(t.files).length).toBeGreaterThan(100);
  });
});

// README's `cli` and `config` sections must match what scripts/gen-docs.ts generates from the command table and the schema.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { README, renderCliSection, renderConfigSection, sectionOf } from "../../scripts/gen-docs.ts";

const HINT = "README.md is out of date: run `bun scripts/gen-docs.ts` and commit README.md";

test("the configuration reference is the schema's", () => {
  const readme = readFileSync(README, "utf8");
  const want = renderConfigSection().trim();
  if (sectionOf(readme, "config") !== want) console.error(HINT);
  expect(sectionOf(readme, "config")).toBe(want);
});

test("the CLI reference is the commands' --help texts", async () => {
  const readme = readFileSync(README, "utf8");
  const want = (await renderCliSection()).trim();
  if (sectionOf(readme, "cli") !== want) console.error(HINT);
  expect(sectionOf(readme, "cli")).toBe(want);
});

test("the Quick start's two commands are the ones package.json and .ci/run provide", () => {
  const readme = readFileSync(README, "utf8");
  expect(readme).toContain("npm ci && npm start");
  expect(readme).toMatch(/^npm test\b/m);
  const pkg = JSON.parse(readFileSync(README.replace(/README\.md$/, "package.json"), "utf8"));
  expect(pkg.scripts.start).toMatch(/\bserve\b/);
  expect(pkg.scripts.test).toBe("bun scripts/test.ts");
  expect(readFileSync(README.replace(/README\.md$/, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
});

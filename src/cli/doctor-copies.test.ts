// checkInstalledCopies against a temp tree: a package's binary and the manifest of an earlier home install.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkInstalledCopies } from "./doctor-copies.ts";

let root: string;
let packaged: string;
let manifest: string;
let home: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "c2l-doctor-copies-"));
  packaged = join(root, "usr/bin/cloudtolocalllm-tunnel");
  manifest = join(root, "data/cloudtolocalllm/install-manifest.json");
  home = join(root, "home/.local/bin/cloudtolocalllm-tunnel");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const put = (p: string, text = "") => {
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
};
const manifestOf = (binary: string) => JSON.stringify({ format: 1, installedAt: "", binary, files: [binary], dirs: [], units: [] });

test("a package's binary and a home copy from an earlier install: a warning whose fix is the package's install", () => {
  put(packaged);
  put(home);
  put(manifest, manifestOf(home));
  expect(checkInstalledCopies(packaged, manifest)).toEqual({
    name: "Installed copies",
    level: "warn",
    detail: expect.stringContaining(`the package's ${packaged} and ${home}, which an earlier \`install\` put in your home`),
    fix: expect.stringContaining(`\`${packaged} install\` removes the home copy`),
  });
});

test("one copy alone (the package's, or the home's), or a manifest whose binary is gone, is no line", () => {
  put(packaged);
  expect(checkInstalledCopies(packaged, manifest)).toBeNull();
  put(manifest, manifestOf(home));
  expect(checkInstalledCopies(packaged, manifest)).toBeNull();
  put(home);
  rmSync(packaged);
  expect(checkInstalledCopies(packaged, manifest)).toBeNull();
  put(manifest, "{ not json");
  put(packaged);
  expect(checkInstalledCopies(packaged, manifest)).toBeNull();
});

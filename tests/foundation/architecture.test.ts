// docs/architecture.md cannot drift: its generated table and diagram match the imports, and every file it names exists.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ARCHITECTURE, renderArchitecture, withGenerated } from "../../scripts/gen-architecture.ts";
import { closure, cycles, fileCycles, folderGraph, importGraph, importsOf, REPO } from "../../scripts/import-graph.ts";

const doc = readFileSync(ARCHITECTURE, "utf8");

test("the generated section (folders per process, folder diagram) is what the imports say today", () => {
  expect(withGenerated(doc, renderArchitecture())).toBe(doc);
});

test("every source file the document names exists", () => {
  const named = [...doc.matchAll(/`((?:src|tray|scripts|tests)\/[\w./-]+\.ts)`/g)].map((m) => m[1]!);
  expect(named.length).toBeGreaterThan(20);
  expect(named.filter((f) => !existsSync(join(REPO, f)))).toEqual([]);
});

test("no import cycle between files, through any kind of import (runtime, type-only, lazy)", () => {
  expect(fileCycles(importGraph(), ["runtime", "type", "lazy"])).toEqual([]);
});

test("no import cycle between top-level folders: they form layers (config, core, the features, daemon, cli)", () => {
  expect(cycles(folderGraph(importGraph()))).toEqual([]);
});

test("the component contract sits below the features: src/core imports no feature, and nothing in src/ imports tray/ but the tray command's entry and the daemon's tray component, both lazily", () => {
  const g = importGraph();
  const coreImports = [...g].filter(([f]) => f.startsWith("src/core/")).flatMap(([f, es]) => es.filter((e) => !/^src\/(core|config|net|kinds)\//.test(e.to)).map((e) => `${f} -> ${e.to}`));
  expect(coreImports).toEqual([]);
  const intoTray = [...g].filter(([f]) => f.startsWith("src/")).flatMap(([f, es]) => es.filter((e) => e.to.startsWith("tray/")).map((e) => `${f} -> ${e.to} (${e.kind})`));
  expect(intoTray).toEqual(["src/cli/tray.ts -> tray/main.ts (lazy)", "src/daemon/tray-component.ts -> tray/in-daemon.ts (lazy)"]);
});

test("the import reader sees each kind of import, and the cycle finder finds a cycle", () => {
  const edges = importsOf("src/x/a.ts", `import { b } from "./b.ts";\nimport type { C } from "../c.ts";\nexport { d } from "./d.ts";\nconst e = await import("./e.ts");\n`);
  expect(edges).toEqual([
    { to: "src/x/b.ts", kind: "runtime" },
    { to: "src/c.ts", kind: "type" },
    { to: "src/x/d.ts", kind: "runtime" },
    { to: "src/x/e.ts", kind: "lazy" },
  ]);
  expect(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]))).toEqual([["a", "b", "c"]]);
  const g = new Map([["m", [{ to: "t", kind: "runtime" as const }]], ["t", [{ to: "x", kind: "lazy" as const }, { to: "y", kind: "runtime" as const }]]]);
  expect([...closure(g, ["m"], ["runtime", "lazy"], ["t"])].sort()).toEqual(["m", "t", "y"]);
});

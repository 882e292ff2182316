// The program's import graph read from the sources (src/, tray/): files, their imports (runtime, type-only, lazy), folders, cycles.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "..");

export type EdgeKind = "runtime" | "type" | "lazy";
export interface Edge {
  to: string;
  kind: EdgeKind;
}

/** Repo-relative paths of the program's own source files (tests and declaration files left out). */
export function sourceFiles(roots = ["src", "tray"]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith(".ts") && !e.endsWith(".test.ts") && !e.endsWith(".d.ts")) out.push(relative(REPO, p));
    }
  };
  for (const r of roots) walk(join(REPO, r));
  return out;
}

const STATIC = /^[ \t]*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+["'](\.{1,2}\/[^"']+)["']/gm;
const SIDE_EFFECT = /^[ \t]*import\s+["'](\.{1,2}\/[^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** The relative imports of one file's text, resolved to repo-relative paths. */
export function importsOf(file: string, text: string): Edge[] {
  const at = (spec: string) => relative(REPO, resolve(REPO, dirname(file), spec));
  const edges: Edge[] = [];
  for (const m of text.matchAll(STATIC)) edges.push({ to: at(m[3]!), kind: m[2] ? "type" : "runtime" });
  for (const m of text.matchAll(SIDE_EFFECT)) edges.push({ to: at(m[1]!), kind: "runtime" });
  for (const m of text.matchAll(DYNAMIC)) edges.push({ to: at(m[1]!), kind: "lazy" });
  return edges.filter((e) => e.to.endsWith(".ts"));
}

export type Graph = Map<string, Edge[]>;

export function importGraph(files = sourceFiles()): Graph {
  const known = new Set(files);
  const g: Graph = new Map();
  for (const f of files) g.set(f, importsOf(f, readFileSync(join(REPO, f), "utf8")).filter((e) => known.has(e.to)));
  return g;
}

/** "src/broker/x.ts" → "src/broker"; "src/main.ts" → "src"; "tray/x.ts" → "tray". */
export function folderOf(file: string): string {
  const parts = file.split("/");
  return parts[0] === "src" && parts.length > 2 ? `src/${parts[1]}` : parts[0]!;
}

/**
 * Every file reachable from `entries` through the given kinds of import. Lazy imports out of a file in `dispatch`
 * (the command table, which names every command) are not followed: a process loads only the command it runs.
 */
export function closure(g: Graph, entries: string[], kinds: EdgeKind[] = ["runtime", "lazy"], dispatch: string[] = []): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const table = dispatch.includes(f);
    for (const e of g.get(f) ?? []) if (kinds.includes(e.kind) && !(table && e.kind === "lazy")) todo.push(e.to);
  }
  return seen;
}

/** Folder → the folders it imports (through any kind of import), self-edges left out. */
export function folderGraph(g: Graph, kinds: EdgeKind[] = ["runtime", "type", "lazy"]): Map<string, Set<string>> {
  const fg = new Map<string, Set<string>>();
  for (const [f, edges] of g) {
    const a = folderOf(f);
    if (!fg.has(a)) fg.set(a, new Set());
    for (const e of edges) {
      const b = folderOf(e.to);
      if (a !== b && kinds.includes(e.kind)) fg.get(a)!.add(b);
    }
  }
  return fg;
}

/** Strongly connected groups of more than one node (Tarjan): each is an import cycle. */
export function cycles(g: Map<string, Iterable<string>>): string[][] {
  let i = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, i);
    low.set(v, i++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(group.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** Import cycles between files through imports of the given kinds. */
export function fileCycles(g: Graph, kinds: EdgeKind[]): string[][] {
  const plain = new Map<string, string[]>();
  for (const [f, edges] of g) plain.set(f, edges.filter((e) => kinds.includes(e.kind)).map((e) => e.to));
  return cycles(plain);
}

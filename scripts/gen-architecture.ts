// Regenerates docs/architecture.md's generated section (which folders each process loads, the folder diagram) from the imports (`--check` only compares).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { closure, folderGraph, folderOf, importGraph, REPO, type Graph } from "./import-graph.ts";

export const ARCHITECTURE = join(REPO, "docs/architecture.md");
const BEGIN = "<!-- generated:architecture (bun scripts/gen-architecture.ts) -->";
const END = "<!-- /generated:architecture -->";

/** The four processes of the one binary and the file each starts from (src/main.ts picks the command). */
export const PROCESSES = [
  { name: "daemon", command: "serve", entry: "src/cli/serve.ts" },
  { name: "tray", command: "tray", entry: "src/cli/tray.ts" },
  { name: "relay", command: "relay", entry: "src/cli/relay.ts" },
  { name: "CLI", command: "status, config, login, doctor, …", entry: "src/cli/status.ts" },
] as const;

/** Mermaid node ids cannot hold "/". */
const id = (folder: string) => folder.replace(/\//g, "_");

export function renderArchitecture(g: Graph = importGraph()): string {
  const out: string[] = [BEGIN, "", "| process | command | starts in | folders it loads (runtime and lazy imports) |", "| --- | --- | --- | --- |"];
  for (const p of PROCESSES) {
    const folders = [...new Set([...closure(g, ["src/main.ts", p.entry], ["runtime", "lazy"], ["src/cli/commands.ts"])].map(folderOf))].sort();
    out.push(`| ${p.name} | \`${p.command}\` | \`${p.entry}\` | ${folders.map((f) => `\`${f}/\``).join(" ")} |`);
  }
  const fg = folderGraph(g, ["runtime", "lazy"]);
  out.push("", "Which folder imports which (runtime and lazy imports; an arrow points at what is imported):", "", "```mermaid", "flowchart LR");
  for (const [from, tos] of [...fg].sort(([a], [b]) => a.localeCompare(b))) {
    for (const to of [...tos].sort()) out.push(`  ${id(from)}["${from}/"] --> ${id(to)}["${to}/"]`);
  }
  out.push("```", "", END);
  return out.join("\n");
}

/** The doc with its generated section replaced. */
export function withGenerated(doc: string, section: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/architecture.md has no ${BEGIN} … ${END} section`);
  return doc.slice(0, a) + section + doc.slice(b + END.length);
}

if (import.meta.main) {
  const doc = readFileSync(ARCHITECTURE, "utf8");
  const next = withGenerated(doc, renderArchitecture());
  if (process.argv.includes("--check")) {
    if (next !== doc) {
      console.error("docs/architecture.md is out of date: run `bun scripts/gen-architecture.ts`");
      process.exit(1);
    }
  } else writeFileSync(ARCHITECTURE, next);
}

// Renders docs/broker.md's kinds table from the table of kinds (src/kinds/): what each kind is probed for, where its
// models, loaded models and load are read, which dialects it speaks, what Ollama's /api/show also reads beside the
// model listing (`bun scripts/gen-kinds-table.ts` rewrites it;
// tests/foundation/kinds-table.test.ts fails when it no longer matches).
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { KIND_NAMES, KINDS, type Read, type ShowRead } from "../src/kinds/index.ts";

export const BROKER_DOC = join(resolve(import.meta.dir, ".."), "docs/broker.md");
const START = "<!-- generated:kinds (bun scripts/gen-kinds-table.ts) -->";
const END = "<!-- /generated:kinds -->";

const get = (path: string, fields: string | undefined) => `\`GET ${path}\`${fields ? ` (${fields.replace(/\|/g, "\\|")})` : ""}`;
const read = (r: Read) => get(r.path, r.fields);
const show = (s: ShowRead | undefined) => (s ? get(s.target("MODEL"), s.fields) : "—");
const telling = (reads: readonly Read[], what: Read["tells"][number]) => reads.filter((r) => r.tells.includes(what)).map(read).join(", ") || "—";

export function renderKindsTable(): string {
  const rows = [
    "| kind | server | probed for (all failing: down; some: degraded) | models | loaded models | load (slots, busy, queue) | native dialects | `/api/show` also reads |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const k of KIND_NAMES) {
    const m = KINDS[k];
    const probe = m.reads.filter((r) => r.required).map((r) => `${read(r)}: ${r.tells.join(", ")}`).join("; ");
    const dialects = Object.entries(m.dialects)
      .map(([d, s]) => (s === true ? d : `${d} (≥ ${s!.since})`))
      .join(", ");
    rows.push(`| \`${k}\` | ${m.label} (default \`${m.defaultUrl}\`) | ${probe} | ${telling(m.reads, "models")} | ${telling(m.reads, "loaded")} | ${telling(m.reads, "capacity")} | ${dialects} | ${show(m.showRead)} |`);
  }
  return rows.join("\n");
}

export function withKindsTable(doc: string): string {
  const a = doc.indexOf(START);
  const z = doc.indexOf(END);
  if (a < 0 || z < a) throw new Error(`docs/broker.md has no ${START} … ${END} markers`);
  return doc.slice(0, a + START.length) + "\n\n" + renderKindsTable() + "\n\n" + doc.slice(z);
}

if (import.meta.main) {
  writeFileSync(BROKER_DOC, withKindsTable(readFileSync(BROKER_DOC, "utf8")));
  console.error("docs/broker.md: kinds table rewritten");
}

// The threat models in docs/ cite a test for every row: each cited file exists and holds each cited test's title.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const DOCS = ["docs/api.md", "docs/gateway.md", "docs/relay-cluster.md"];

interface Row {
  line: string;
  cites: { file: string; titles: string[] }[];
}

/** The rows of the table under a "Threat model" heading, with the tests named in their last cell. */
export function threatRows(markdown: string): Row[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => /^#{2,3} Threat model\s*$/.test(l));
  if (start < 0) return [];
  const rows: Row[] = [];
  for (let i = start + 1; i < lines.length && !/^#{1,3} /.test(lines[i]!); i++) {
    const l = lines[i]!;
    if (!l.startsWith("|") || /^\|\s*-/.test(l) || /^\|\s*an attacker who/.test(l)) continue;
    const cells = l.split(" | ");
    const last = cells.at(-1)!.replace(/\|\s*$/, "");
    // Each citation: `path` optionally followed by › "title", "title" (up to the next backtick).
    const cites = [...last.matchAll(/`([^`]+\.test\.ts)`([^`]*)/g)].map((m) => ({
      file: m[1]!,
      titles: m[2]!.includes("›") ? [...m[2]!.matchAll(/"([^"]+)"/g)].map((t) => t[1]!) : [],
    }));
    rows.push({ line: l, cites });
  }
  return rows;
}

for (const doc of DOCS) {
  test(`${doc}: every row of its threat model names a test that exists`, () => {
    const rows = threatRows(readFileSync(join(ROOT, doc), "utf8"));
    expect(rows.length).toBeGreaterThan(3);
    const missing: string[] = [];
    for (const r of rows) {
      if (r.cites.length === 0) missing.push(`no test named in: ${r.line.slice(0, 80)}…`);
      for (const c of r.cites) {
        const path = join(ROOT, c.file);
        if (!existsSync(path)) {
          missing.push(`${c.file} does not exist`);
          continue;
        }
        const src = readFileSync(path, "utf8");
        for (const t of c.titles) if (!src.includes(t)) missing.push(`${c.file} has no test "${t}"`);
      }
    }
    expect(missing).toEqual([]);
  });
}

test("the row parser reads citations and finds a missing title", () => {
  const md = [
    "## Threat model",
    "| an attacker who holds | cannot | can | test |",
    "| --- | --- | --- | --- |",
    '| a key | x | y | `tests/a.test.ts` › "one; more", "two"; `src/b.test.ts` |',
    "## Next",
    '| not | a | row | `tests/c.test.ts` |',
  ].join("\n");
  expect(threatRows(md)).toEqual([
    {
      line: '| a key | x | y | `tests/a.test.ts` › "one; more", "two"; `src/b.test.ts` |',
      cites: [
        { file: "tests/a.test.ts", titles: ["one; more", "two"] },
        { file: "src/b.test.ts", titles: [] },
      ],
    },
  ]);
});

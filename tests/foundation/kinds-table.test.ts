// Upstream kinds are one table (src/kinds/index.ts, one module per kind): adding a kind touches its own file and the
// table's line. This fails when code outside src/kinds/ compares an upstream's kind with a kind's name or switches on
// it (`u.kind === "vllm"`, `case "llamacpp":` in a `switch (x.kind)`): such code belongs in the kind's module.
// Dialect names that are also kind names ("ollama", "openai") are not caught: the rule looks at what is compared, an
// expression naming a kind (`kind`, `u.kind`, `upstreamKind`), not at the literal alone.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, sourceFiles } from "../../scripts/import-graph.ts";
import { KIND_NAMES } from "../../src/kinds/index.ts";
import { BROKER_DOC, renderKindsTable, withKindsTable } from "../../scripts/gen-kinds-table.ts";

/** The source with comments blanked (strings kept: they are what is compared). */
function withoutComments(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") (out += " "), i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else (out += c), i++;
  }
  return out;
}

const NAMES = KIND_NAMES.join("|");
/** An expression that names a kind: `kind`, `u.kind`, `c.upstream.kind`, `upstreamKind`, `u?.kind`. */
const KIND_EXPR = String.raw`[\w$]*(?:\??\.)?[\w$.?]*[kK]ind\b`;
const COMPARE = new RegExp(String.raw`(?:${KIND_EXPR}\s*[!=]==?\s*(["'\`])(?:${NAMES})\1)|(?:(["'\`])(?:${NAMES})\2\s*[!=]==?\s*${KIND_EXPR})`, "g");
const SWITCH = /switch\s*\(\s*([^)]*)\)\s*\{/g;

/** Where `text` compares or switches on a kind's name: "file:line: code" for each. */
export function kindSwitches(file: string, text: string): string[] {
  const src = withoutComments(text);
  const at = (i: number) => `${file}:${src.slice(0, i).split("\n").length}`;
  const hits: string[] = [];
  for (const m of src.matchAll(COMPARE)) hits.push(`${at(m.index!)}: ${m[0]}`);
  for (const m of src.matchAll(SWITCH)) {
    if (!new RegExp(`${KIND_EXPR}\\s*$`).test(m[1]!.trim())) continue;
    // The switch's body: up to its closing brace.
    let depth = 1;
    let j = m.index! + m[0].length;
    for (; j < src.length && depth > 0; j++) depth += src[j] === "{" ? 1 : src[j] === "}" ? -1 : 0;
    const body = src.slice(m.index! + m[0].length, j);
    for (const c of body.matchAll(new RegExp(String.raw`case\s*(["'\`])(?:${NAMES})\1\s*:`, "g"))) hits.push(`${at(m.index! + m[0].length + c.index!)}: switch (${m[1]!.trim()}) … ${c[0]}`);
  }
  return hits;
}

test("no file outside src/kinds/ compares or switches on a kind's name: kinds vary in their modules, not in branches", () => {
  const files = sourceFiles().filter((f) => !f.startsWith("src/kinds/"));
  expect(files.length).toBeGreaterThan(100);
  expect(files.flatMap((f) => kindSwitches(f, readFileSync(join(REPO, f), "utf8")))).toEqual([]);
});

test("the rule catches planted kind branches and leaves dialect names, defaults and other kinds alone", () => {
  const planted = [
    'if (u.kind === "vllm") return "/metrics";',
    "const slots = upstream.kind !== 'llamacpp' ? null : 4;",
    'if ("ollama" === u?.kind) x();',
    'switch (u.kind) {\n  case "lmstudio":\n    break;\n}',
    'switch (kind) { case "openai": { a(); } }',
  ].join("\n");
  expect(kindSwitches("planted.ts", planted)).toEqual([
    'planted.ts:1: u.kind === "vllm"',
    "planted.ts:2: upstream.kind !== 'llamacpp'",
    'planted.ts:3: "ollama" === u?.kind',
    'planted.ts:5: switch (u.kind) … case "lmstudio":',
    'planted.ts:8: switch (kind) … case "openai":',
  ]);
  const fine = [
    'if (dialect === "ollama") return errorBody("ollama", code, msg);', // a dialect, not a kind
    'switch (format) { case "openai": break; }',
    'const d = { name: "local", kind: "ollama", url };', // a default value, not a branch
    'if (read.kind === "invalid") return;', // another field named kind, not a kind's name
    '// if (u.kind === "vllm") in a comment',
    'const s = "u.kind === \\"vllm\\" in a string";',
  ].join("\n");
  expect(kindSwitches("fine.ts", fine)).toEqual([]);
});

test("every kind is one module in src/kinds/ and one line of the table", () => {
  const dir = join(REPO, "src/kinds");
  const modules = readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "index.ts" && f !== "types.ts")
    .map((f) => f.replace(/\.ts$/, ""))
    .sort();
  expect(modules).toEqual([...KIND_NAMES].sort());
  const index = readFileSync(join(dir, "index.ts"), "utf8");
  const table = index.slice(index.indexOf("export const KINDS = {"), index.indexOf("} as const"));
  for (const k of KIND_NAMES) {
    expect(index).toContain(`import { ${k} } from "./${k}.ts";`);
    expect(table.split("\n").filter((l) => l.trim() === `${k},`)).toHaveLength(1);
  }
});

test("docs/broker.md's kinds table is the one the kinds render (bun scripts/gen-kinds-table.ts)", () => {
  const doc = readFileSync(BROKER_DOC, "utf8");
  expect(withKindsTable(doc)).toBe(doc);
  for (const k of KIND_NAMES) expect(renderKindsTable()).toContain(`| \`${k}\` |`);
});

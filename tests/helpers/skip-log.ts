// The log of tests held back because the machine lacks a system tool: requires.ts appends, scripts/test.ts reports.
import { appendFileSync, existsSync, readFileSync } from "node:fs";

/** Set (to 1) by .ci/run: a test whose tool is missing fails, naming the tool, instead of skipping. */
export const REQUIRE_TOOLS_ENV = "CLOUDTOLOCALLLM_REQUIRE_TOOLS";
/** Set by scripts/test.ts to a file; every test skipped (or failed) for a missing need appends one JSON line to it. */
export const SKIP_LOG_ENV = "CLOUDTOLOCALLLM_TEST_SKIP_LOG";

export interface SkipRecord {
  /** Test file, relative to the repository. */
  file: string;
  test: string;
  /** Missing tools with their Debian packages. */
  tools: { tool: string; package: string }[];
  /** Missing capabilities (e.g. user namespaces) with how to get them. */
  capabilities: { name: string; fix: string }[];
  /** true under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1: the test was declared to fail, not skipped. */
  failed: boolean;
}

export function appendSkip(rec: SkipRecord, env: NodeJS.ProcessEnv = process.env): void {
  const log = env[SKIP_LOG_ENV];
  if (log) appendFileSync(log, `${JSON.stringify(rec)}\n`);
}

export function readSkips(file: string): SkipRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SkipRecord);
}

/** Per missing tool (or set of tools): the apt-get line and the tests it held back; then the missing capabilities with their fixes. Empty when nothing was held back. */
export function skipReport(recs: SkipRecord[]): string {
  if (recs.length === 0) return "";
  const failed = recs.some((r) => r.failed);
  const group = (entries: [string, string, SkipRecord][]) => {
    const groups = new Map<string, { how: string; tests: string[] }>();
    for (const [key, how, r] of entries) {
      const g = groups.get(key) ?? groups.set(key, { how, tests: [] }).get(key)!;
      g.tests.push(`${r.file} › ${r.test}`);
    }
    const lines: string[] = [];
    for (const [what, g] of groups) {
      lines.push(`  ${what} — ${g.how} — ${g.tests.length} test${g.tests.length === 1 ? "" : "s"}:`);
      for (const t of g.tests) lines.push(`      ${t}`);
    }
    return lines;
  };
  const verb = failed ? "Failed" : "Skipped";
  const lines: string[] = [];
  // One group per set of missing tools (ImageMagick's identify and convert together), so each test is listed once.
  const tools = group(
    recs.filter((r) => r.tools.length).map((r): [string, string, SkipRecord] => [r.tools.map((t) => t.tool).join(", "), `apt-get install ${[...new Set(r.tools.map((t) => t.package))].join(" ")}`, r]),
  );
  if (tools.length) {
    lines.push(`${verb} because a system tool is missing${failed ? ` (${REQUIRE_TOOLS_ENV}=1 makes it a failure, not a skip)` : ""}:`, ...tools);
    const packages = [...new Set(recs.flatMap((r) => r.tools.map((t) => t.package)))].sort();
    lines.push(`Install them all: sudo apt-get install ${packages.join(" ")}`);
  }
  const caps = group(recs.flatMap((r) => r.capabilities.map((c): [string, string, SkipRecord] => [c.name, c.fix, r])));
  if (caps.length) lines.push(`${verb} because this machine does not allow what they need:`, ...caps);
  if (!failed) lines.push(`(.ci/run installs every tool and sets ${REQUIRE_TOOLS_ENV}=1, under which these tests fail instead of skipping.)`);
  return lines.join("\n");
}

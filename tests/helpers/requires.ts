// Declares tests that need a system tool (or a system capability): they skip with the tool's name and install line when it
// is missing, are recorded for scripts/test.ts's closing summary, and fail instead under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1 (CI).
import * as bun from "bun:test";
import { relative, resolve } from "node:path";
import { REQUIRE_TOOLS_ENV, appendSkip } from "./skip-log.ts";
import { SYSTEM_TOOLS, aptInstallLine, type ToolName } from "./system-tools.ts";

/** Something other than a tool on PATH that a test needs from the machine (e.g. unprivileged user namespaces). */
export interface Capability {
  name: string;
  available: boolean | (() => boolean);
  /** How to get it, shown in the skip and in the summary. */
  fix: string;
}
export type Need = ToolName | Capability;

export interface Guarded {
  /** Whether every need is met (the functions below are then bun:test's own). */
  ok: boolean;
  /** What is missing, for a message: e.g. `needs promtool (apt-get install prometheus)`. */
  reason: string;
  test: typeof bun.test;
  it: typeof bun.test;
  describe: typeof bun.describe;
  beforeAll: typeof bun.beforeAll;
  afterAll: typeof bun.afterAll;
  beforeEach: typeof bun.beforeEach;
  afterEach: typeof bun.afterEach;
}

const REPO = resolve(import.meta.dir, "../..");
const toolCache = new Map<string, boolean>();

function toolPresent(tool: string): boolean {
  let present = toolCache.get(tool);
  if (present === undefined) toolCache.set(tool, (present = Bun.which(tool) !== null));
  return present;
}

/** The test file that called requireTools: the first stack frame outside this file. */
function callerFile(): string {
  for (const line of (new Error().stack ?? "").split("\n")) {
    const m = /\(?((?:\/|[A-Za-z]:\\)[^():]+):\d+:\d+\)?\s*$/.exec(line);
    if (m && m[1] !== import.meta.path) return relative(REPO, m[1]!);
  }
  return "?";
}

/**
 * Guards tests on what they need from the machine. Replace `import { test, beforeAll, … } from "bun:test"` with
 * `const { test, beforeAll, … } = requireTools(["promtool"])` for a whole file (its hooks then do nothing when a tool
 * is missing, so nothing tries to start it), or write `requireTools(["promtool"]).test(name, fn)` for one test.
 */
export function requireTools(needs: readonly Need[]): Guarded {
  const tools = needs.filter((n): n is ToolName => typeof n === "string");
  const caps = needs.filter((n): n is Capability => typeof n !== "string");
  for (const t of tools) if (!(t in SYSTEM_TOOLS)) throw new Error(`requireTools: "${t}" is not in tests/helpers/system-tools.ts; add it with its Debian package`);
  const missingTools = tools.filter((t) => !toolPresent(t));
  // A capability is probed with the tools, so it is only asked about once they are all there.
  const missingCaps = missingTools.length ? [] : caps.filter((c) => !(typeof c.available === "function" ? c.available() : c.available));
  if (missingTools.length === 0 && missingCaps.length === 0) {
    return { ok: true, reason: "", test: bun.test, it: bun.test, describe: bun.describe, beforeAll: bun.beforeAll, afterAll: bun.afterAll, beforeEach: bun.beforeEach, afterEach: bun.afterEach };
  }
  const parts: string[] = [];
  if (missingTools.length) parts.push(`${missingTools.join(", ")} (${aptInstallLine(missingTools)})`);
  for (const c of missingCaps) parts.push(`${c.name} (${c.fix})`);
  const reason = `needs ${parts.join(" and ")}`;
  const strict = process.env[REQUIRE_TOOLS_ENV] === "1";
  const file = callerFile();

  const record = (name: string) =>
    appendSkip({
      file,
      test: name,
      tools: missingTools.map((t) => ({ tool: t, package: SYSTEM_TOOLS[t].package })),
      capabilities: missingCaps.map((c) => ({ name: c.name, fix: c.fix })),
      failed: strict,
    });
  const declare = (name: string, fn?: unknown, opts?: unknown) => {
    record(name);
    if (strict) {
      const message = `${reason}, which this machine lacks; ${REQUIRE_TOOLS_ENV}=1 makes that a failure instead of a skip`;
      return (bun.test as any)(name, () => {
        throw new Error(message);
      }, opts);
    }
    return (bun.test.skip as any)(`${name} — ${reason}`, fn ?? (() => {}), opts);
  };
  const test: any = declare;
  test.only = declare;
  test.skip = bun.test.skip; // skipped for its own reason, not for the tool: not recorded
  test.todo = bun.test.todo;
  test.skipIf = (cond: boolean) => (cond ? bun.test.skip : declare);
  test.if = (cond: boolean) => (cond ? declare : bun.test.skip);
  test.each = () => {
    throw new Error("requireTools: test.each is not supported; declare the rows with test()");
  };
  const noop = () => {};
  return { ok: false, reason, test, it: test, describe: bun.describe, beforeAll: noop as any, afterAll: noop as any, beforeEach: noop as any, afterEach: noop as any };
}

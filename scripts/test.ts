// Runs `bun test` (arguments pass through), lists the tests skipped for a missing system tool with the apt-get line that
// brings it, and ends with one plain "N passed, N failed" line that any CI can read.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SKIP_LOG_ENV, readSkips, skipReport } from "../tests/helpers/skip-log.ts";
import { ALONE_FILES, TIMINGS_FILE, WORKERS, isWholeSuite } from "../tests/helpers/suite-plan.ts";

const args = process.argv.slice(2);
// Integration tests start real processes on a possibly busy 2-core machine: 60 s per test unless told otherwise
// (bun's default is 5 s, and bunfig.toml's [test] section has no timeout setting).
if (!args.some((a) => a.startsWith("--timeout"))) args.unshift("--timeout=60000");
// tests/helpers/requires.ts appends a line here for each test it skips (or fails) because the machine lacks something.
const skipDir = mkdtempSync(join(tmpdir(), "c2l-test-skips-"));
const skipLog = join(skipDir, "skips.jsonl");

const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
async function tee(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream, phase: typeof counts) {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    out.write(chunk);
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^\s*(\d+) (pass|fail|skip|todo)\s*$/.exec(line.replace(/\x1b\[[0-9;]*m/g, ""));
      if (m) phase[m[2] as keyof typeof counts] = Number(m[1]);
    }
  }
}

/** One `bun test` run; its summary counts are added to the totals. */
async function run(testArgs: string[]): Promise<number> {
  const phase = { pass: 0, fail: 0, skip: 0, todo: 0 };
  const proc = Bun.spawn([process.execPath, "test", ...testArgs], { stdout: "pipe", stderr: "pipe", env: { ...process.env, [SKIP_LOG_ENV]: skipLog } }) as Bun.Subprocess<"ignore", "pipe", "pipe">;
  await Promise.all([tee(proc.stdout, process.stdout, phase), tee(proc.stderr, process.stderr, phase)]);
  const code = await proc.exited;
  for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] += phase[k];
  return code;
}

let code: number;
if (isWholeSuite(args)) {
  // The whole suite: most files run in parallel workers (the integration tests mostly wait on real processes, so the
  // serial run used a tenth of a core), slowest first by the recorded timings; the few files that measure a process's
  // memory, allocations or JIT compiles then run alone, so that no other file's load moves what they measure.
  const parallel = await run([...args, `--parallel=${WORKERS}`, `--timings=${TIMINGS_FILE}`, ...ALONE_FILES.map((f) => `--path-ignore-patterns=${f}`)]);
  const alone = await run([...args.filter((a) => a !== "--update-timings"), ...ALONE_FILES.map((f) => `./${f}`)]);
  code = parallel !== 0 ? parallel : alone;
} else {
  code = await run(args);
}

const held = readSkips(skipLog);
rmSync(skipDir, { recursive: true, force: true });
if (held.length) console.log(`\n${skipReport(held)}`);
console.log(`\ntests: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`);
// Nothing passed is a failure (a path or filter that matched nothing), unless what ran was held back for a missing tool.
process.exit(code !== 0 ? code : counts.fail > 0 ? 1 : counts.pass === 0 && held.length === 0 ? 1 : 0);

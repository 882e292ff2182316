// The logger: its three formats (journal, terminal, plain) and how it picks one; scrubbing of secrets, bearer tokens, secret-named fields and URLs.
import { afterAll, afterEach, expect, test } from "bun:test";
import { closeSync, fstatSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseFormat, formatEntry, logger, logFormat, registerSecret, setLogFormat, setLogSink, type LogFormat } from "./log.ts";

const lines: string[] = [];
const started: LogFormat = logFormat();
setLogSink((l) => void lines.push(l));
setLogFormat("journal");
afterEach(() => {
  lines.length = 0;
  setLogFormat("journal");
});
afterAll(() => {
  setLogSink((l) => void process.stderr.write(l + "\n"));
  setLogFormat(started);
});

test("URLs in messages and fields lose their credentials and secret query values", () => {
  const log = logger("test");
  log.warn("cannot reach http://user:pw1secret@127.0.0.1:1/?api_key=KEY1secret", { url: "https://TOKEN2secret@h/?region=eu&token=T3secret", error: new Error("GET http://u:pw4secret@h/ failed") });
  expect(lines).toHaveLength(1);
  for (const s of ["pw1secret", "KEY1secret", "TOKEN2secret", "T3secret", "pw4secret"]) expect(lines[0]).not.toContain(s);
  expect(lines[0]).toContain("http://user:redacted@127.0.0.1:1/?api_key=redacted");
  expect(lines[0]).toContain("region=eu");
});

test("registered secrets, bearer tokens and secret-named fields stay hidden", () => {
  registerSecret("registered-secret-value");
  logger("test").info("sent registered-secret-value with Bearer abc.def", { api_key: "plain" });
  expect(lines[0]).not.toContain("registered-secret-value");
  expect(lines[0]).not.toContain("abc.def");
  expect(lines[0]).toContain("api_key=[redacted]");
  // The scheme in any case, as HTTP reads it ("bearer", "BEARER"), in a field's value too.
  logger("test").warn("upstream said: authorization failed for bearer lower.case.tok", { detail: "BEARER UPPER.CASE.TOK" });
  expect(lines[1]).not.toContain("lower.case.tok");
  expect(lines[1]).not.toContain("UPPER.CASE.TOK");
});

test("a message with line breaks is still one line", () => {
  logger("test").error("first\nsecond\r\nthird", { error: new Error("a\nb") });
  expect(lines).toEqual(['<3>error test: first second third error="a\\nb"']);
});

test("a field value with a control character (a terminal escape from a client or an upstream) is quoted and escaped", () => {
  logger("test").info("request", { model: "m\x1b]0;owned\x07\x1b[2J", upstream: "plain" });
  expect(lines).toEqual(['<6>info test: request model="m\\u001b]0;owned\\u0007\\u001b[2J" upstream=plain']);
});

test("a field JSON cannot write (a cycle, a BigInt) is still one line: a log call never throws (a stray rejection with such a reason would stop the daemon)", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  logger("test").error("unhandled failure", { error: cyclic, n: 10n });
  expect(lines).toEqual(['<3>error test: unhandled failure error="[object Object]" n=10']);
});

test("stray failures (an unhandled rejection, an uncaught exception) are one log line each, no stack dump", async () => {
  const script = `
    import { logger, logStrayFailures } from ${JSON.stringify(import.meta.dir + "/log.ts")};
    logStrayFailures(logger("stray"), () => { console.error("<6>info stray: fatal called"); process.exit(3); });
    Promise.reject(new Error("nobody waited for this"));
    setTimeout(() => { throw new Error("nobody caught this"); }, 20);
  `;
  const p = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited];
  expect(code).toBe(3);
  expect(out).toBe("");
  // stderr is a pipe: plain lines, each starting with its ISO time.
  const got = err.trimEnd().split("\n");
  for (const l of got.slice(0, 2)) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error stray: /);
  expect(got.map((l) => l.replace(/^\S+Z /, ""))).toEqual([
    'error stray: unhandled failure error="nobody waited for this"',
    'error stray: unexpected error; stopping error="nobody caught this"',
    "<6>info stray: fatal called",
  ]);
});

test("a stray failure without a message, or with no reason at all, still says what it was: never an empty error=", async () => {
  const script = `
    import { logger, logStrayFailures } from ${JSON.stringify(import.meta.dir + "/log.ts")};
    logStrayFailures(logger("stray"), () => process.exit(3));
    Promise.reject(new TypeError());
    Promise.reject();
    setTimeout(() => process.exit(0), 50);
  `;
  const p = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  expect(await p.exited).toBe(0);
  // Before: "unhandled failure error=" and a bare "unhandled failure".
  expect(err.trimEnd().split("\n").map((l) => l.replace(/^\S+Z /, ""))).toEqual(["error stray: unhandled failure error=TypeError", "error stray: unhandled failure error=undefined"]);
});

test("runtime warnings (a listener leak, a deprecation a dependency raises) are one warn line each, not Bun's \"(node:PID) …\" pair", async () => {
  const script = `
    import { EventEmitter } from "node:events";
    import { logger, logStrayFailures } from ${JSON.stringify(import.meta.dir + "/log.ts")};
    logStrayFailures(logger("stray"), () => process.exit(3));
    const e = new EventEmitter();
    for (let i = 0; i < 11; i++) e.on("x", () => {});
    process.emitWarning("old API", "DeprecationWarning", "DEP0999");
    setTimeout(() => process.exit(0), 50);
  `;
  const p = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  expect(await p.exited).toBe(0);
  expect(err.trimEnd().split("\n").map((l) => l.replace(/^\S+Z /, ""))).toEqual([
    expect.stringMatching(/^warn stray: runtime warning kind=MaxListenersExceededWarning warning="Possible EventEmitter memory leak detected\. 11 x listeners/),
    'warn stray: runtime warning kind=DeprecationWarning warning="old API"',
  ]);
});

const entry = { time: new Date(2026, 11, 6, 9, 5, 7, 42), level: "warn" as const, component: "broker", msg: "upstream slow", fields: [["upstream", "local"], ["took", "1.20s"]] as [string, string][] };

test("journal lines keep the sd-daemon priority; plain lines start with the ISO time; terminal lines with the local time", () => {
  expect(formatEntry("journal", entry)).toBe("<4>warn broker: upstream slow upstream=local took=1.20s");
  expect(formatEntry("plain", entry)).toBe(`${entry.time.toISOString()} warn broker: upstream slow upstream=local took=1.20s`);
  expect(formatEntry("tty", entry)).toBe("09:05:07.042 WARN  broker   upstream slow upstream=local took=1.20s");
});

test("terminal lines in colour: the level coloured, the time and keys dimmed; the text unchanged once the colour is stripped", () => {
  const line = formatEntry("tty", entry, true);
  expect(line).toContain("\x1b[33mWARN ");
  expect(line).toContain("\x1b[2mupstream=\x1b[0mlocal");
  expect(line.replace(/\x1b\[[0-9;]*m/g, "")).toBe(formatEntry("tty", entry));
});

test("a secret is scrubbed in terminal colour too (the value is scrubbed before the colour splits the line)", () => {
  registerSecret("tty-secret-value");
  setLogFormat("tty", true);
  logger("test").info("x", { note: "has tty-secret-value in it", url: "http://u:pw9secret@h/" });
  expect(lines[0]).not.toContain("tty-secret-value");
  expect(lines[0]).not.toContain("pw9secret");
  expect(lines[0]).toMatch(/^\x1b\[2m\d\d:\d\d:\d\d\.\d{3}\x1b\[0m /);
});

test("the format follows stderr: journald only when JOURNAL_STREAM names this very stream; a terminal; else plain", () => {
  const file = join(tmpdir(), `c2l-log-${process.pid}.txt`);
  const fd = openSync(file, "w");
  try {
    const st = fstatSync(fd, { bigint: true });
    expect(chooseFormat({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, { fd })).toBe("journal");
    // Inherited from a parent that ran under journald, but writing to a file: not the journal.
    expect(chooseFormat({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }, { fd })).toBe("plain");
    expect(chooseFormat({}, { fd })).toBe("plain");
    expect(chooseFormat({}, { fd, isTTY: true })).toBe("tty");
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
});

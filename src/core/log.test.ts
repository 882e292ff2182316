// The logger's scrubbing: registered secrets, bearer tokens, secret-named fields, and URLs through the one URL redaction.
import { afterAll, afterEach, expect, test } from "bun:test";
import { logger, registerSecret, setLogSink } from "./log.ts";

const lines: string[] = [];
setLogSink((l) => void lines.push(l));
afterEach(() => void (lines.length = 0));
afterAll(() => setLogSink((l) => void process.stderr.write(l + "\n")));

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
});

test("a message with line breaks is still one line", () => {
  logger("test").error("first\nsecond\r\nthird", { error: new Error("a\nb") });
  expect(lines).toEqual(['<3>error test: first second third error="a\\nb"']);
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
  expect(err.trimEnd().split("\n")).toEqual([
    '<3>error stray: unhandled failure error="nobody waited for this"',
    '<3>error stray: unexpected error; stopping error="nobody caught this"',
    "<6>info stray: fatal called",
  ]);
});

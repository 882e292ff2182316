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

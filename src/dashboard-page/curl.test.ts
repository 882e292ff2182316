// Copy as curl: the command line built from a captured request, and that a hostile request cannot make it run anything.
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RequestRecord } from "../core/contracts.ts";
import { curlCommand, shellQuote } from "./curl.ts";

const base: RequestRecord = {
  id: "1-x",
  time: "2026-12-06T12:00:00.000Z",
  source: "local",
  method: "POST",
  path: "/api/chat",
  model: "llama3.2:1b",
  upstream: "alpha",
  status: 200,
  ttfbMs: 10,
  durationMs: 50,
  tokensPerSec: 100,
  bytesIn: 27,
  bytesOut: 100,
  error: null,
};

test("a captured request becomes a curl line for the broker: credentials as $C2L_KEY, the body quoted for the shell", () => {
  const r: RequestRecord = {
    ...base,
    requestBody: `{"model":"it's","x":"$HOME"}`,
    requestHeaders: { host: "127.0.0.1:11435", authorization: "[redacted]", cookie: "[redacted]", "content-type": "application/json", "x-auth-token": "[redacted]" },
  };
  expect(curlCommand(r, "http://127.0.0.1:11435/")).toBe(
    `curl 'http://127.0.0.1:11435/api/chat' -H "Authorization: Bearer $C2L_KEY" -H 'content-type: application/json' -H "x-auth-token: $C2L_SECRET_1" --data-raw '{"model":"it'\\''s","x":"$HOME"}'`,
  );
});

test("a body not kept whole is read from a file, with a note; a bodyless GET has no -X", () => {
  expect(curlCommand({ ...base, requestBody: '{"model"', requestBodyTruncated: true }, "http://h:1")).toBe(
    "# The body was not kept whole ([dashboard] capture_bodies, body_cap): put it in body.json first.\ncurl 'http://h:1/api/chat' --data-binary @body.json",
  );
  expect(curlCommand({ ...base, method: "GET", path: "/api/tags", bytesIn: 0, requestHeaders: { "x-api-key": "[redacted]" } }, "http://h:1")).toBe(
    `curl 'http://h:1/api/tags' -H "x-api-key: $C2L_KEY"`,
  );
  expect(curlCommand({ ...base, method: "DELETE", bytesIn: 0 }, "http://h:1")).toBe("curl -X DELETE 'http://h:1/api/chat'");
  expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
});

test("names and a method a hostile client chose stay words on the copied line: pasted into a shell, nothing runs", () => {
  // Backticks and $ are legal in header names and methods (RFC 9110 tchar); a name that looks secret (or a value holding a
  // gateway key) is redacted and shown as a $C2L_SECRET_n placeholder, so the name must be quoted apart from the variable.
  const dir = mkdtempSync(join(tmpdir(), "c2l-curl-"));
  try {
    const r: RequestRecord = {
      ...base,
      method: "`touch$IFS.pwned-method`",
      requestBody: "{}",
      requestHeaders: { "x-token-`touch$IFS.pwned-name`": "[redacted]", "x-`touch$IFS.pwned-plain`": "$(touch .pwned-value)" },
    };
    const line = curlCommand(r, "http://127.0.0.1:1");
    // curl is a no-op function here: only what the shell itself expands on the line could create a file.
    const run = Bun.spawnSync(["bash", "-c", `curl() { printf '%s\\n' "$@"; }; C2L_SECRET_1=s; ${line}`], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect({ line, files: readdirSync(dir) }).toEqual({ line, files: [] });
    const words = run.stdout.toString().trim().split("\n");
    expect(words).toContain("`touch$IFS.pwned-method`");
    expect(words).toContain("x-token-`touch$IFS.pwned-name`: s");
    expect(words).toContain("x-`touch$IFS.pwned-plain`: $(touch .pwned-value)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("headers the original's Connection named (hop-by-hop: the broker never passed them on) are not on the curl line, as they are not replayed", () => {
  const r: RequestRecord = {
    ...base,
    requestBody: "{}",
    bytesIn: 2,
    requestHeaders: { host: "127.0.0.1:11435", connection: "keep-alive, X-Hop", "x-hop": "this connection only", "x-kept": "k", "content-type": "application/json" },
  };
  expect(curlCommand(r, "http://h:1")).toBe(`curl 'http://h:1/api/chat' -H 'x-kept: k' -H 'content-type: application/json' --data-raw '{}'`);
});

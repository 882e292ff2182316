// Unit tests for the one URL redaction: credentials, secret-named query values, fragments; everything else byte for byte.
import { describe, expect, test } from "bun:test";
import { holdsRedactedUrlPart, redactUrl, redactUrlsDeep, redactUrlsIn } from "./redact-url.ts";

describe("redactUrl", () => {
  const cases: [string, string][] = [
    ["http://127.0.0.1:11434", "http://127.0.0.1:11434"],
    ["http://user:s3cret@127.0.0.1:11434/?api_key=SECRET", "http://user:redacted@127.0.0.1:11434/?api_key=redacted"],
    ["https://ghp_TOKEN@example.com/path", "https://redacted@example.com/path"],
    ["https://user:@example.com", "https://user:redacted@example.com"],
    ["https://h/?key=A&apikey=B&x-api-key=C&access_token=D&client_secret=E&sig=F&X-Amz-Signature=G&password=H&auth=I&code=J", "https://h/?key=redacted&apikey=redacted&x-api-key=redacted&access_token=redacted&client_secret=redacted&sig=redacted&X-Amz-Signature=redacted&password=redacted&auth=redacted&code=redacted"],
    ["wss://relay.example/agent?region=eu&token=abc", "wss://relay.example/agent?region=eu&token=redacted"],
    ["https://h/?%61pi_key=A", "https://h/?%61pi_key=redacted"],
    ["https://h/?BAREVALUE", "https://h/?redacted"],
    ["https://h/?empty=&token=", "https://h/?empty=&token="],
    ["https://h/p#access_token=X", "https://h/p#redacted"],
    ["HTTP://U:P@H:1/a/b?c=d#", "HTTP://U:redacted@H:1/a/b?c=d#"],
    ["not a url", "not a url"],
    ["/relative?token=x", "/relative?token=x"],
  ];
  for (const [input, out] of cases) test(input, () => expect(redactUrl(input)).toBe(out));
});

test("URLs inside text are redacted; punctuation after them stays", () => {
  expect(redactUrlsIn('error="cannot reach http://u:pw@h:1/?api_key=K1 (refused)." then (see https://h/?token=T2).')).toBe(
    'error="cannot reach http://u:redacted@h:1/?api_key=redacted (refused)." then (see https://h/?token=redacted).',
  );
  expect(redactUrlsIn(JSON.stringify({ message: '"ftp://u:pw@h/?key=K" is not a URL' }))).toBe(JSON.stringify({ message: '"ftp://u:redacted@h/?key=redacted" is not a URL' }));
  expect(redactUrlsIn("no urls here")).toBe("no urls here");
});

test("redactUrlsDeep copies and redacts every string", () => {
  const v = { a: ["http://u:pw@h/"], b: { c: "x https://h/?sig=S y", n: 3, z: null } };
  expect(redactUrlsDeep(v)).toEqual({ a: ["http://u:redacted@h/"], b: { c: "x https://h/?sig=redacted y", n: 3, z: null } });
  expect(v.a[0]).toBe("http://u:pw@h/");
});

test("a redacted URL sent back is recognised; a real one is not", () => {
  for (const s of ["http://u:redacted@h/", "http://redacted@h/", "https://h/?key=redacted", "https://h/?a=1&token=redacted&b=2", "https://h/?redacted", "https://h/#redacted"]) expect({ s, v: holdsRedactedUrlPart(s) }).toEqual({ s, v: true });
  for (const s of ["http://u:pw@h/", "https://h/?key=value", "https://redacted.example/", "https://h/redacted"]) expect({ s, v: holdsRedactedUrlPart(s) }).toEqual({ s, v: false });
});

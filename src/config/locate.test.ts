// Unit tests for the field-path → line/column locator over the TOML forms people write.
import { expect, test } from "bun:test";
import { locate, locateAll } from "./locate.ts";

const TEXT = `# comment
[api]
listen = "127.0.0.1:8765" # trailing comment
allowed_origins = [
  "https://a.example", # one
  "https://b.example",
]

[[upstreams]]
name = "a"
url = """
http://x"""

[[upstreams]]
  name = 'b'
  "url" = "http://y"

[tunnel.backoff]
max = { a = 1, b = [1, { c = 2 }] }
tunnel2.dotted.key = 1
`;

test("finds keys, array items, arrays of tables and inline tables", () => {
  const all = locateAll(TEXT);
  expect(all.get("api")).toEqual({ line: 2, column: 1 });
  expect(all.get("api.listen")).toEqual({ line: 3, column: 1 });
  expect(all.get("api.allowed_origins[1]")).toEqual({ line: 6, column: 3 });
  expect(all.get("upstreams[0].url")).toEqual({ line: 11, column: 1 });
  expect(all.get("upstreams[1]")).toEqual({ line: 14, column: 1 });
  expect(all.get("upstreams[1].name")).toEqual({ line: 15, column: 3 });
  expect(all.get("upstreams[1].url")).toEqual({ line: 16, column: 3 });
  expect(all.get("tunnel.backoff.max.b[1].c")).toEqual({ line: 19, column: 26 });
  expect(all.get("tunnel.backoff.tunnel2.dotted.key")).toEqual({ line: 20, column: 1 });
});

test("a missing field points at the nearest table that exists", () => {
  expect(locate(TEXT, "upstreams[1].priority")).toEqual({ line: 14, column: 1 });
  expect(locate(TEXT, "health.interval")).toBeUndefined();
});

test("multi-line strings do not confuse the line count", () => {
  const text = 'a = """\nline\n[not_a_table]\n"""\nb = 1\n';
  expect(locateAll(text).get("b")).toEqual({ line: 5, column: 1 });
  expect(locateAll(text).has("not_a_table")).toBe(false);
});

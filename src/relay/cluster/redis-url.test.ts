// cluster.redis_url's rules (scheme, host, port, database) and its spelling in messages: a credential in it is never shown, whether or not it parses.
import { expect, test } from "bun:test";
import { redisUrlProblem, shownRedisUrl } from "./redis-url.ts";

test("a port outside 1-65535, no host, a database that is not a number, a URL that does not parse: each named, the password never", () => {
  const cases: [string, RegExp][] = [
    ["redis://:hunter2pass@127.0.0.1:99999/0", /^"redis:\/\/redacted@127\.0\.0\.1:99999\/0": port 99999 is not a TCP port \(1 to 65535\)$/],
    ["rediss://:hunter2pass@127.0.0.1:0/0", /: port 0 is not a TCP port/],
    ["redis://:hunter2pass@:6379/0", /^"redis:\/\/redacted@:6379\/0" does not parse as a URL/],
    ["redis://:hunter2pass@bad host:6379/0", /^"redis:\/\/redacted@bad host:6379\/0" does not parse as a URL: .*percent-encoded$/],
    ["redis://hunter2pass@[::1/0", /^"redis:\/\/redacted@\[::1\/0" does not parse as a URL/],
    ["redis://:hunter2pass@10.0.0.5:6379/abc", /^"redis:\/\/:redacted@10\.0\.0\.5:6379\/abc": the database \(the path\) is a number/],
    ["http://user:hunter2pass@10.0.0.5", /^"http:\/\/user:redacted@10\.0\.0\.5" must be a redis:\/\/ or rediss:\/\/ URL$/],
    ["hunter2pass", /^is not a URL: write it as redis:\/\//],
  ];
  for (const [url, want] of cases) {
    const p = redisUrlProblem(url);
    expect(p).toMatch(want);
    expect(p).not.toContain("hunter2");
  }
});

test("the URLs the docs show are accepted", () => {
  for (const url of ["redis://10.0.0.5:6379/0", "redis://:PASSWORD@10.0.0.5:6379/0", "redis://USER:PASSWORD@10.0.0.5:6379/0", "rediss://:PASSWORD@redis.internal:6380/0", "redis://[::1]:6379", "redis://localhost", "redis://h:1/", "redis://h:65535/15"])
    expect(redisUrlProblem(url)).toBeNull();
});

test("shown: a query's password and a fragment hidden as everywhere else; a string that is no URL is not shown at all", () => {
  expect(shownRedisUrl("redis://h:6379/0?password=hunter2pass#x")).toBe("redis://h:6379/0?password=redacted#redacted");
  expect(shownRedisUrl("redis://u:p%zz@h:99999")).toBe("redis://redacted@h:99999");
  expect(shownRedisUrl("hunter2pass")).toBeNull();
});

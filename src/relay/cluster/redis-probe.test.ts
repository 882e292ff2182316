// What a Redis reply to AUTH or PING tells an operator whose connection failed; a credential is never repeated.
import { expect, test } from "bun:test";
import { diagnoseRedis, explainReply } from "./redis-probe.ts";

test("replies to AUTH and PING are named for what to fix", () => {
  expect(explainReply("-WRONGPASS invalid username-password pair or user is disabled.", true)).toMatch(/refused the user name or password in cluster\.redis_url \(WRONGPASS\)/);
  expect(explainReply("-NOAUTH Authentication required.", false)).toMatch(/requires a password: give it in cluster\.redis_url/);
  expect(explainReply("-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", true)).toMatch(/has a password but this Redis has none configured/);
  expect(explainReply("-ERR unknown command", false)).toBe("Redis answered: ERR unknown command");
  expect(explainReply("+OK", true)).toBeNull();
  expect(explainReply("+PONG", false)).toBeNull();
});

test("a Redis that cannot be reached is named with the cause: a refused port, a name that does not resolve; never the password", async () => {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  const refused = await diagnoseRedis(`redis://:hunter2-secret@127.0.0.1:${port}/0`, 2000);
  expect(refused).toBe(`cannot reach Redis at 127.0.0.1:${port}: the connection was refused (nothing listens on that port) (ECONNREFUSED)`);
  const dns = await diagnoseRedis("redis://:hunter2-secret@no-such-host.invalid:6379/0", 5000);
  expect(dns).toMatch(/^cannot reach Redis at no-such-host\.invalid:6379: .*\(DNS\)/);
  expect(`${refused} ${dns}`).not.toContain("hunter2");
});

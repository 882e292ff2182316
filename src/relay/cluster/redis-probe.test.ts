// What a Redis reply to AUTH or PING tells an operator whose connection failed; a credential is never repeated.
import { expect, test } from "bun:test";
import { explainReply } from "./redis-probe.ts";

test("replies to AUTH and PING are named for what to fix", () => {
  expect(explainReply("-WRONGPASS invalid username-password pair or user is disabled.", true)).toMatch(/refused the user name or password in cluster\.redis_url \(WRONGPASS\)/);
  expect(explainReply("-NOAUTH Authentication required.", false)).toMatch(/requires a password: give it in cluster\.redis_url/);
  expect(explainReply("-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", true)).toMatch(/has a password but this Redis has none configured/);
  expect(explainReply("-ERR unknown command", false)).toBe("Redis answered: ERR unknown command");
  expect(explainReply("+OK", true)).toBeNull();
  expect(explainReply("+PONG", false)).toBeNull();
});

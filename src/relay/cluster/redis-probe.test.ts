// What a Redis reply to AUTH or PING tells an operator whose connection failed; a credential is never repeated.
import { expect, test } from "bun:test";
import { diagnoseRedis, explainReply, notRedis } from "./redis-probe.ts";

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
  expect(refused).toBe(`cannot reach Redis at 127.0.0.1:${port}: connection refused (nothing listens on that port) (ECONNREFUSED)`);
  const dns = await diagnoseRedis("redis://:hunter2-secret@no-such-host.invalid:6379/0", 5000);
  expect(dns).toMatch(/^cannot reach Redis at no-such-host\.invalid:6379: .*\(DNS\)/);
  expect(`${refused} ${dns}`).not.toContain("hunter2");
});

test("a server that is not Redis, or that never answers, is named as such, not 'cannot reach' (Bun's client said only 'Connection closed')", async () => {
  const serve = (reply: (s: import("bun").Socket) => void) => Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: reply, open() {} } });
  const http = serve((s) => (s.write("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"), s.end()));
  const silent = serve(() => {});
  const closing = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end(), data() {} } });
  try {
    expect(await diagnoseRedis(`redis://:hunter2-secret@127.0.0.1:${http.port}/0`, 2000)).toBe(
      `what answers at 127.0.0.1:${http.port} is not Redis (it sent "HTTP/1.1 400 Bad Request"); check the host and port in cluster.redis_url`,
    );
    expect(await diagnoseRedis(`redis://127.0.0.1:${silent.port}/0`, 300)).toBe(`Redis at 127.0.0.1:${silent.port} took the connection but answered nothing within 300 ms (cluster.redis_timeout)`);
    expect(await diagnoseRedis(`redis://127.0.0.1:${closing.port}/0`, 2000)).toBe(`Redis at 127.0.0.1:${closing.port} closed the connection without answering`);
  } finally {
    for (const s of [http, silent, closing]) s.stop(true);
  }
});

test("a reply that starts like RESP is left to explainReply; anything else is not Redis", () => {
  for (const r of ["+PONG", "-ERR x", ":1", "$5", "*2", "_", "%1", ">3"]) expect(notRedis(r, "h:1")).toBeNull();
  expect(notRedis("\u0015\u0003\u0001\u0000\u0002\u0002", "h:1")).toMatch(/^what answers at h:1 is not Redis \(it sent "\\u0015/);
});

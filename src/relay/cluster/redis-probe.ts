// Why a connection to the cluster's Redis failed, in words an operator can act on: Bun's client only says the
// connection closed, so after a failure one raw RESP exchange (AUTH with redis_url's credentials, or PING without)
// tells a refused password, a missing one and a password Redis does not expect apart, and a connection that fails names
// its cause (a name that does not resolve, a refused port). Credentials never appear in it.
import { connect, isIP } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { unreachable } from "../../net/unreachable.ts";

function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

/** What a Redis reply to AUTH or PING means for the operator; null when it does not explain a failure. */
export function explainReply(reply: string, hasPassword: boolean): string | null {
  if (reply.startsWith("-WRONGPASS")) return "Redis refused the user name or password in cluster.redis_url (WRONGPASS)";
  if (reply.startsWith("-NOAUTH")) return "Redis requires a password: give it in cluster.redis_url (redis://:password@host:port/db, or redis://user:password@host:port/db for an ACL user)";
  if (hasPassword && /without any password configured/.test(reply)) return "cluster.redis_url has a password but this Redis has none configured for that user (requirepass / ACL)";
  if (reply.startsWith("-")) return `Redis answered: ${reply.slice(1, 200).trim()}`;
  return null;
}

/** One AUTH (or PING) on a fresh connection to `url`; an explanation of the failure, or null. */
export function diagnoseRedis(url: string, timeoutMs: number, tls?: ConnectionOptions): Promise<string | null> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.resolve(null);
  }
  const password = decodeURIComponent(u.password);
  const user = decodeURIComponent(u.username);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 6379);
  const command = password ? resp(user ? ["AUTH", user, password] : ["AUTH", password]) : resp(["PING"]);
  return new Promise((resolve) => {
    let got = "";
    const done = (v: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      // Never echo a credential, whatever the server said.
      resolve(v && password ? v.split(password).join("***") : v);
    };
    const sock = u.protocol === "rediss:" ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls }, () => sock.write(command)) : connect({ host, port }, () => sock.write(command));
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("data", (d) => {
      got += d.toString("utf8");
      if (got.includes("\r\n")) done(explainReply(got.slice(0, got.indexOf("\r\n")), !!password));
    });
    sock.on("error", (e) => done(u.protocol === "rediss:" && /certificate|self.signed|CERT|SSL|TLS/i.test(e.message) ? `TLS to Redis failed: ${e.message}` : `cannot reach Redis at ${unreachable(host, port, e)}`));
    sock.on("close", () => done(null));
  });
}

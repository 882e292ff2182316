// Why a connection to the cluster's Redis failed, in words an operator can act on: Bun's client only says the
// connection closed, so after a failure one raw RESP exchange (AUTH with redis_url's credentials, or PING without)
// tells a refused password, a missing one and a password Redis does not expect apart, a connection that fails names
// its cause (a name that does not resolve, a refused port), and so does a server that is not Redis or never answers.
// Credentials never appear in it.
import { connect, isIP } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { connectCode, unreachable } from "../../net/unreachable.ts";

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

// The first byte of every RESP2 and RESP3 reply: anything else came from a server that does not speak Redis.
const RESP_TYPES = new Set("+-:$*_,#!=(%~>|.");

/** Why a first line that is not a Redis reply failed the connection (an HTTP server, a TLS port, another protocol). */
export function notRedis(firstLine: string, where: string): string | null {
  if (firstLine === "" || RESP_TYPES.has(firstLine[0]!)) return null;
  return `what answers at ${where} is not Redis (it sent ${JSON.stringify(firstLine.slice(0, 60))}); check the host and port in cluster.redis_url`;
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
    const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    let connected = false;
    const sent = () => {
      connected = true;
      sock.write(command);
    };
    const sock = u.protocol === "rediss:" ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls }, sent) : connect({ host, port }, sent);
    // Bun's client says only "Connection closed" of a server that took the connection and never answered.
    const timer = setTimeout(
      () => done(connected ? `Redis at ${where} took the connection but answered nothing within ${timeoutMs} ms (cluster.redis_timeout)` : `cannot reach Redis at ${where}: no answer to the connection within ${timeoutMs} ms`),
      timeoutMs,
    );
    sock.on("data", (d) => {
      got += d.toString("utf8");
      const line = got.includes("\r\n") ? got.slice(0, got.indexOf("\r\n")) : got.length > 60 ? got : null;
      if (line !== null) done(notRedis(line, where) ?? explainReply(line, !!password));
    });
    let failed = false;
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (failed) return;
      failed = true;
      if (u.protocol === "rediss:" && /certificate|self.signed|CERT|SSL|TLS/i.test(e.message)) return done(`TLS to Redis failed: ${e.message}`);
      if (connected) return done(`cannot reach Redis at ${unreachable(host, port, e)}`);
      // node:net's ECONNREFUSED may be a missing route: the system's own code is asked for (unreachable.ts).
      clearTimeout(timer);
      void connectCode(host, port, e.code, timeoutMs).then((code) => done(`cannot reach Redis at ${unreachable(host, port, code === e.code ? e : Object.assign(new Error(code), { code }))}`));
    });
    sock.on("close", () => failed || done(connected && got === "" ? `Redis at ${where} closed the connection without answering` : notRedis(got, where)));
  });
}

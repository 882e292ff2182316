// Test helper: Debian's redis-server on a free loopback port, no persistence, in a temp dir, optionally with requirepass
// or TLS;
// it can be stopped and started again on the same port (an outage), and is stopped and removed after.
import { mkdtempSync, rmSync } from "node:fs";
import { freePort } from "../../bench/lib/proc.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Subprocess } from "bun";
import { RedisLink } from "../../src/relay/cluster/redis-link.ts";
import { until } from "./until.ts";

export interface TestRedis {
  url: string;
  port: number;
  /** A connected command link (closed by stop()). */
  link(): Promise<RedisLink>;
  /** Kills the server (SIGKILL: an outage, not a clean stop); its data is gone (no persistence). */
  kill(): Promise<void>;
  /** Sends the server a signal (SIGSTOP: a Redis that holds its connections and answers nothing; SIGCONT). */
  signal(sig: "SIGSTOP" | "SIGCONT"): void;
  /** Starts the server again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** requirepass: clients must AUTH (the url carries it, redis://:password@...). */
  password?: string;
  /** TLS only (rediss://), with this certificate and key; clients verify it with `ca` (PEM text). */
  tls?: { certFile: string; keyFile: string; caFile: string; ca: string };
}

export async function startRedis(o: RedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-redis-"));
  const port = await freePort();
  const url = `${o.tls ? "rediss" : "redis"}://${o.password ? `:${encodeURIComponent(o.password)}@` : ""}127.0.0.1:${port}/0`;
  const auth = o.password ? ["--requirepass", o.password] : [];
  const ports = o.tls
    ? ["--port", "0", "--tls-port", String(port), "--tls-cert-file", o.tls.certFile, "--tls-key-file", o.tls.keyFile, "--tls-ca-cert-file", o.tls.caFile, "--tls-auth-clients", "no"]
    : ["--port", String(port)];
  const tls = o.tls ? { ca: [o.tls.ca] } : undefined;
  let proc: Subprocess | null = null;
  const links: RedisLink[] = [];
  async function start() {
    proc = Bun.spawn(["redis-server", ...ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...auth], { stdout: "ignore", stderr: "pipe" });
    await until(
      async () => {
        const l = new RedisLink(url, { timeoutMs: 500, tls });
        await l.start();
        const ok = l.up && (await l.cmd("PING", [])) === "PONG";
        l.stop();
        return ok;
      },
      10_000,
      "redis-server to answer PING",
    );
  }
  async function kill() {
    proc?.kill("SIGKILL");
    await proc?.exited;
    proc = null;
  }
  await start();
  return {
    url,
    port,
    async link() {
      const l = new RedisLink(url, { timeoutMs: 1000, tls, backoff: { initialMs: 50, maxMs: 200 } });
      await l.start();
      links.push(l);
      return l;
    },
    kill,
    signal: (sig) => proc?.kill(sig),
    start,
    async stop() {
      proc?.kill("SIGCONT");
      for (const l of links) l.stop();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

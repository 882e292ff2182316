// Test helper: Debian's redis-server on a free loopback port, no persistence, in a temp dir; stopped and removed after.
import { mkdtempSync, rmSync } from "node:fs";
import { freePort } from "../../bench/lib/proc.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient, type Subprocess } from "bun";
import { until } from "./until.ts";

export interface TestRedis {
  url: string;
  port: number;
  client(): RedisClient;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-redis-"));
  const port = await freePort();
  const proc: Subprocess = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdout: "ignore", stderr: "pipe" });
  const url = `redis://127.0.0.1:${port}/0`;
  const clients: RedisClient[] = [];
  await until(
    async () => {
      const c = new RedisClient(url);
      try {
        return (await c.send("PING", [])) === "PONG";
      } catch {
        return false;
      } finally {
        c.close();
      }
    },
    10_000,
    "redis-server to answer PING",
  );
  return {
    url,
    port,
    client() {
      const c = new RedisClient(url);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

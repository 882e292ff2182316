// The cluster's membership: each node keeps an expiring heartbeat key in Redis with its internal URL; a node whose key
// expired (SIGKILL, a partition) is gone. Listed with SCAN, never KEYS.
import type { RedisCommands } from "./redis-commands.ts";

export interface NodeInfo {
  id: string;
  url: string;
  startedAt: string;
}

export class NodeRegistry {
  constructor(
    private readonly redis: RedisCommands,
    private readonly self: NodeInfo,
    private readonly ttlMs: number,
    private readonly prefix = "c2l:relay",
  ) {}

  private key(id: string): string {
    return `${this.prefix}:node:${id}`;
  }

  /** Publishes (or refreshes) this node's heartbeat. */
  async beat(): Promise<void> {
    await this.redis.cmd("SET", [this.key(this.self.id), JSON.stringify(this.self), "PX", String(this.ttlMs)]);
  }

  /** Leaves the cluster on a clean stop, so nobody forwards here in the meantime. */
  async leave(): Promise<void> {
    await this.redis.cmd("DEL", [this.key(this.self.id)]);
  }

  /** The nodes alive now (this one included while it beats). */
  async alive(): Promise<NodeInfo[]> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.cmd<[string, string[]]>("SCAN", [cursor, "MATCH", `${this.prefix}:node:*`, "COUNT", "200"]);
      cursor = String(next);
      keys.push(...batch);
    } while (cursor !== "0");
    if (!keys.length) return [];
    const values = await this.redis.cmd<(string | null)[]>("MGET", keys);
    return values.flatMap((v) => {
      try {
        return v ? [JSON.parse(v) as NodeInfo] : [];
      } catch {
        return [];
      }
    });
  }
}

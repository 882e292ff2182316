// The cluster's membership: each node keeps an expiring heartbeat key in Redis with its internal URL, signed with the
// cluster's record key; a node whose key expired (SIGKILL, a partition) is gone, and one whose record does not verify
// never was a member. Listed with SCAN, never KEYS; the scan also finds nodes of other keyspaces (another secret).
import { signRecord, verifyRecord } from "./record-signature.ts";
import type { RedisCommands } from "./redis-commands.ts";

export interface NodeInfo {
  id: string;
  url: string;
  startedAt: string;
}

/** A heartbeat record not honoured: the key it is under and why. */
export interface IgnoredNode {
  key: string;
  why: string;
}

export interface Membership {
  alive: NodeInfo[];
  ignored: IgnoredNode[];
}

export class NodeRegistry {
  constructor(
    private readonly redis: RedisCommands,
    /** The cluster's record key (cluster-keys.ts). */
    private readonly recordKey: Uint8Array,
    private readonly self: NodeInfo,
    private readonly ttlMs: number,
    /** This cluster's keyspace: c2l:relay:<key id> (cluster-keys.ts). */
    private readonly prefix = "c2l:relay",
  ) {}

  private fields(n: NodeInfo): string[] {
    return [n.id, n.url, n.startedAt];
  }

  private key(id: string): string {
    return `${this.prefix}:node:${id}`;
  }

  /** Publishes (or refreshes) this node's heartbeat. */
  async beat(): Promise<void> {
    const record = { ...this.self, sig: signRecord(this.recordKey, "node", this.fields(this.self)) };
    await this.redis.cmd("SET", [this.key(this.self.id), JSON.stringify(record), "PX", String(this.ttlMs)]);
  }

  /** Leaves the cluster on a clean stop, so nobody forwards here in the meantime. */
  async leave(): Promise<void> {
    await this.redis.cmd("DEL", [this.key(this.self.id)]);
  }

  /** The nodes alive now (this one included while it beats). */
  async alive(): Promise<NodeInfo[]> {
    return (await this.members()).alive;
  }

  /**
   * The nodes alive now, and the heartbeat records found but not honoured: unsigned or forged ones in this keyspace,
   * and nodes of other keyspaces (running with another shared secret) on the same Redis.
   */
  async members(): Promise<Membership> {
    const keys: string[] = [];
    let cursor = "0";
    // Every keyspace's heartbeats (c2l:relay:<key id>:node:<id>): ours to list, the others to report.
    const pattern = `${this.prefix.replace(/:[^:]*$/, "")}:*:node:*`;
    do {
      const [next, batch] = await this.redis.cmd<[string, string[]]>("SCAN", [cursor, "MATCH", pattern, "COUNT", "200"]);
      cursor = String(next);
      keys.push(...batch);
    } while (cursor !== "0");
    const out: Membership = { alive: [], ignored: [] };
    if (!keys.length) return out;
    const values = await this.redis.cmd<(string | null)[]>("MGET", keys);
    const mine = `${this.prefix}:node:`;
    keys.forEach((key, i) => {
      const v = values[i];
      if (!v) return;
      if (!key.startsWith(mine)) return void out.ignored.push({ key, why: "a node of another keyspace: it runs with a different shared secret" });
      let n: NodeInfo & { sig?: string };
      try {
        n = JSON.parse(v) as NodeInfo & { sig?: string };
      } catch {
        return void out.ignored.push({ key, why: "not a heartbeat record" });
      }
      const info = { id: String(n.id), url: String(n.url), startedAt: String(n.startedAt) };
      if (key !== mine + info.id || !verifyRecord(this.recordKey, "node", this.fields(info), n.sig)) return void out.ignored.push({ key, why: "its signature does not verify with this cluster's secret" });
      out.alive.push(info);
    });
    return out;
  }
}

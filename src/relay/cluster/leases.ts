// Tunnel ownership in a relay cluster: one node holds each tunnel under an expiring lease with an epoch (a fencing
// token). A claim always takes over and raises the epoch; a node whose epoch is no longer the lease's is fenced: its
// renewals fail and it must stop serving that tunnel, so two nodes never both answer for one.
import type { RedisClient } from "bun";

/** Atomic in Redis (Lua, Redis 7.0+): the epoch counter outlives the lease, so epochs only ever grow. */
const CLAIM = `
local epoch = redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return epoch`;
const RENEW = `
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] and redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 0`;
const RELEASE = `
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] and redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export interface Lease {
  node: string;
  epoch: number;
}

export class TunnelLeases {
  constructor(
    private readonly redis: RedisClient,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly prefix = "c2l:relay",
  ) {}

  private keys(tunnel: string): [string, string] {
    return [`${this.prefix}:lease:${tunnel}`, `${this.prefix}:epoch:${tunnel}`];
  }

  /** This node takes the tunnel (its agent connected here); returns the new epoch, which fences any earlier holder. */
  async claim(tunnel: string): Promise<number> {
    const [lease, epoch] = this.keys(tunnel);
    return Number(await this.redis.send("EVAL", [CLAIM, "2", lease, epoch, this.nodeId, String(this.ttlMs)]));
  }

  /** Keeps the lease while the agent's session lives; false when another node took it or it expired (fenced). */
  async renew(tunnel: string, epoch: number): Promise<boolean> {
    const [lease] = this.keys(tunnel);
    return Number(await this.redis.send("EVAL", [RENEW, "1", lease, this.nodeId, String(epoch), String(this.ttlMs)])) === 1;
  }

  /** Gives the tunnel up on a clean disconnect; only the holder of this epoch can. */
  async release(tunnel: string, epoch: number): Promise<boolean> {
    const [lease] = this.keys(tunnel);
    return Number(await this.redis.send("EVAL", [RELEASE, "1", lease, this.nodeId, String(epoch)])) === 1;
  }

  /** Who holds the tunnel now, or null. */
  async owner(tunnel: string): Promise<Lease | null> {
    const [lease] = this.keys(tunnel);
    const h = (await this.redis.send("HGETALL", [lease])) as Record<string, string> | string[] | null;
    const m = Array.isArray(h) ? Object.fromEntries(h.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]!]]))) : (h ?? {});
    return m.node ? { node: m.node, epoch: Number(m.epoch) } : null;
  }
}

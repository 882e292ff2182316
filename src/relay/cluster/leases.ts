// Tunnel ownership in a relay cluster: one node holds each tunnel under an expiring lease with an epoch (a fencing
// token). A claim always takes over and raises the epoch (the agent is connected to the claiming node now, so the old
// holder, dead or not, never has to be waited for); a node whose epoch is no longer the lease's is fenced: its renewals
// fail and it stops serving that tunnel, so two nodes never both answer for one. Every change is published so that
// other nodes drop their cached owner at once. Each lease is signed (tunnel, node, URL) with the cluster's record key:
// a lease that does not verify (written by anyone without the shared secret) is never followed.
import { signRecord, verifyRecord } from "./record-signature.ts";
import type { RedisCommands } from "./redis-commands.ts";

export const OWNERS_CHANNEL = "owners";

/**
 * Atomic in Redis (Lua, Redis 7.0+): the epoch counter outlives the lease, so epochs only ever grow. A counter Redis
 * lost (restarted empty, FLUSHALL) starts again from Redis's clock in microseconds, not from 1: a claim made after the
 * loss must still outrank every epoch a node holds from before it, or the old holder would fence the agent's new node
 * (claims would have to outpace the clock, one per microsecond, to break this). Epochs travel as decimal strings:
 * Lua's own number formatting would round 16 digits.
 */
const CLAIM = `
local epoch
if redis.call('EXISTS', KEYS[2]) == 1 then
  epoch = string.format('%d', redis.call('INCR', KEYS[2]))
else
  local t = redis.call('TIME')
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', KEYS[2], epoch)
end
local previous = redis.call('HGET', KEYS[1], 'node') or ''
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'epoch', epoch, 'url', ARGV[3], 'sig', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' ' .. ARGV[1] .. ' ' .. epoch)
return {epoch, previous}`;
// 1: renewed (its URL and signature rewritten if someone altered them). 2: reinstated: the lease had vanished (it
// expired while Redis was unreachable, or Redis restarted empty) and nobody claimed the tunnel since, or it was put
// back at a lower epoch (an earlier holder, frozen or half-open through the loss, renewed first): this node's claim is
// the later one, so the tunnel is its again and the earlier holder is fenced by the published change. 0: fenced (a
// lease or counter at a higher epoch: a later claim).
const RENEW = `
local mine = tonumber(ARGV[2])
local node = redis.call('HGET', KEYS[1], 'node')
if node then
  local held = tonumber(redis.call('HGET', KEYS[1], 'epoch'))
  if node == ARGV[1] and held == mine then
    if redis.call('HGET', KEYS[1], 'url') ~= ARGV[4] or redis.call('HGET', KEYS[1], 'sig') ~= ARGV[6] then
      redis.call('HSET', KEYS[1], 'url', ARGV[4], 'sig', ARGV[6])
      redis.call('PUBLISH', KEYS[3], ARGV[5] .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
    end
    return redis.call('PEXPIRE', KEYS[1], ARGV[3])
  end
  if not held or held >= mine then return 0 end
end
local e = tonumber(redis.call('GET', KEYS[2]) or '0')
if e > mine then return 0 end
if e < mine then redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'epoch', ARGV[2], 'url', ARGV[4], 'sig', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[3], ARGV[5] .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
return 2`;
const RELEASE = `
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] and redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], ARGV[3] .. ' - 0')
  return 1
end
return 0`;

export interface Lease {
  node: string;
  epoch: number;
  /** The owner's internal URL (advertise_url). */
  url: string;
}

export type Renewal = "renewed" | "reinstated" | "fenced";

/** What is in Redis for a tunnel: a lease to follow, one that does not verify (with what it claims), or none. */
export type LeaseRecord = { ok: true; lease: Lease } | { ok: false; forged: { node: string; url: string } } | null;

/** An ownership change as published: the tunnel and its new holder (node "-" after a release). */
export function parseOwnerChange(message: string): { tunnel: string; node: string | null; epoch: number } | null {
  const m = /^(\S+) (\S+) (\d+)$/.exec(message);
  return m ? { tunnel: m[1]!, node: m[2] === "-" ? null : m[2]!, epoch: Number(m[3]) } : null;
}

export class TunnelLeases {
  constructor(
    private readonly redis: RedisCommands,
    /** The cluster's record key (cluster-keys.ts). */
    private readonly key: Uint8Array,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly url = "",
    private readonly prefix = "c2l:relay",
  ) {}

  private sig(tunnel: string): string {
    return signRecord(this.key, "lease", [tunnel, this.nodeId, this.url]);
  }

  private keys(tunnel: string): [string, string] {
    return [`${this.prefix}:lease:${tunnel}`, `${this.prefix}:epoch:${tunnel}`];
  }

  get channel(): string {
    return `${this.prefix}:${OWNERS_CHANNEL}`;
  }

  /**
   * This node takes the tunnel (its agent connected here): the new epoch, which fences any earlier holder, and that
   * holder's node ("" when the tunnel was free).
   */
  async claim(tunnel: string): Promise<{ epoch: number; previous: string }> {
    const [lease, epoch] = this.keys(tunnel);
    const [e, previous] = await this.redis.cmd<[number, string]>("EVAL", [CLAIM, "3", lease, epoch, this.channel, this.nodeId, String(this.ttlMs), this.url, tunnel, this.sig(tunnel)]);
    return { epoch: Number(e), previous: String(previous ?? "") };
  }

  /** Keeps the lease while the agent's session lives; "fenced" when another node took it since. */
  async renew(tunnel: string, epoch: number): Promise<Renewal> {
    const [lease, counter] = this.keys(tunnel);
    const r = Number(await this.redis.cmd("EVAL", [RENEW, "3", lease, counter, this.channel, this.nodeId, String(epoch), String(this.ttlMs), this.url, tunnel, this.sig(tunnel)]));
    return r === 1 ? "renewed" : r === 2 ? "reinstated" : "fenced";
  }

  /** Gives the tunnel up on a clean disconnect; only the holder of this epoch can. */
  async release(tunnel: string, epoch: number): Promise<boolean> {
    const [lease] = this.keys(tunnel);
    return Number(await this.redis.cmd("EVAL", [RELEASE, "2", lease, this.channel, this.nodeId, String(epoch), tunnel])) === 1;
  }

  /** Who holds the tunnel now (a signed lease), or null; a lease that does not verify counts as none. */
  async owner(tunnel: string): Promise<Lease | null> {
    const r = await this.record(tunnel);
    return r?.ok ? r.lease : null;
  }

  /** The tunnel's lease as stored, checked against its signature. */
  async record(tunnel: string): Promise<LeaseRecord> {
    const [lease] = this.keys(tunnel);
    const m = toRecord(await this.redis.cmd("HGETALL", [lease]));
    if (!m.node) return null;
    const url = m.url ?? "";
    if (!verifyRecord(this.key, "lease", [tunnel, m.node, url], m.sig)) return { ok: false, forged: { node: m.node, url } };
    return { ok: true, lease: { node: m.node, epoch: Number(m.epoch), url } };
  }
}

/** HGETALL's reply as a record, whether the client gives an object (RESP3) or a flat array (RESP2). */
export function toRecord(h: unknown): Record<string, string> {
  if (Array.isArray(h)) return Object.fromEntries(h.flatMap((v, i, a) => (i % 2 ? [] : [[String(v), String(a[i + 1])]])));
  return (h as Record<string, string> | null) ?? {};
}

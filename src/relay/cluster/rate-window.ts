// A per-tunnel requests-per-minute limit shared by every node, and each client's share of it: a sliding window log in
// one Redis sorted set per tunnel and per client, checked and counted in one Lua call on Redis's own clock, so N nodes
// let through exactly the limit, not N times it.
import type { RedisCommands } from "./redis-commands.ts";
import type { RateRefusal } from "../limits.ts";

/**
 * KEYS: the windows to check (the tunnel's, then the client's); ARGV: the window (ms), the member, then each key's
 * limit. 1: counted in every window. A negative number: refused by window i (0: the tunnel's, 1: the client's), and
 * -n is i + 2 × the milliseconds until its oldest request leaves it.
 */
const SLIDING_WINDOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[2 + i]) then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return -((i - 1) + 2 * math.max(1, tonumber(oldest[2]) + window - now))
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], window)
end
return 1`;

/** A client's name in a Redis key: hashed, so short and never a credential or subject in clear. */
const clientKey = (client: string) => Bun.CryptoHasher.hash("sha256", client, "base64url") as string;

export class SharedRateWindow {
  private seq = 0;

  constructor(
    private readonly redis: RedisCommands,
    private readonly nodeId: string,
    private readonly windowMs = 60_000,
    private readonly prefix = "c2l:relay",
  ) {}

  /**
   * null when the request may go (it is counted in the tunnel's window and `client`'s), else the seconds until it could
   * and whose window refused it. Throws RedisDown when Redis is away.
   */
  async admit(tunnel: string, limit: number, client: string, clientLimit: number): Promise<RateRefusal | null> {
    const member = `${this.nodeId}:${Date.now()}:${++this.seq}`;
    const base = `${this.prefix}:rate:${tunnel}`;
    const r = Number(await this.redis.cmd("EVAL", [SLIDING_WINDOW, "2", base, `${base}:c:${clientKey(client)}`, String(this.windowMs), member, String(limit), String(clientLimit)]));
    if (r === 1) return null;
    const ms = Math.floor(-r / 2);
    return { seconds: Math.max(1, Math.ceil(ms / 1000)), client: -r % 2 === 1 };
  }
}

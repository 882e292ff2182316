// A per-tunnel requests-per-minute limit shared by every node: a sliding window log in one Redis sorted set, checked
// and counted in one Lua call on Redis's own clock, so N nodes let through exactly the limit, not N times it.
import type { RedisCommands } from "./redis-commands.ts";

/** 1: counted. A negative number: refused, and -n is the milliseconds until the oldest request leaves the window. */
const SLIDING_WINDOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return -math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1`;

export class SharedRateWindow {
  private seq = 0;

  constructor(
    private readonly redis: RedisCommands,
    private readonly nodeId: string,
    private readonly windowMs = 60_000,
    private readonly prefix = "c2l:relay",
  ) {}

  /** null when the request may go (it is counted), else the seconds until it could. Throws RedisDown when Redis is away. */
  async admit(tunnel: string, limit: number): Promise<number | null> {
    const member = `${this.nodeId}:${Date.now()}:${++this.seq}`;
    const r = Number(await this.redis.cmd("EVAL", [SLIDING_WINDOW, "1", `${this.prefix}:rate:${tunnel}`, String(limit), String(this.windowMs), member]));
    return r === 1 ? null : Math.max(1, Math.ceil(-r / 1000));
  }
}

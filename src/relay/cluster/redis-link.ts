// The relay node's link to the cluster's Redis: one command connection and one subscriber connection, reconnected by a
// supervisor with backoff. Commands never queue while Redis is away: they fail at once (RedisDown), so callers can
// degrade (serve local tunnels, per-node limits) instead of hanging.
import { RedisClient } from "bun";
import { ownTimeDeadline } from "./own-time.ts";
import { diagnoseRedis } from "./redis-probe.ts";
import type { CodeOf } from "../../core/error-codes.ts";

export class RedisDown extends Error {
  readonly code: CodeOf<"RedisDown"> = "redis_down";
  constructor(message: string) {
    super(message);
    this.name = "RedisDown";
  }
}

export interface RedisLinkEvents {
  /** Each command's round trip, in seconds. */
  latency?(seconds: number): void;
  /** A failed command or connection attempt: "connect", "timeout" or "command". */
  error?(kind: string, message: string): void;
  /** Redis became reachable (again) or unreachable. */
  state?(up: boolean, reason: string): void;
}

/** TLS for rediss:// URLs: extra trusted CAs (added to the system's), and a client certificate if Redis asks for one. */
export interface RedisTls {
  ca?: string[];
  cert?: string;
  key?: string;
}

export interface RedisLinkOptions {
  timeoutMs: number;
  tls?: RedisTls;
  events?: RedisLinkEvents;
  backoff?: { initialMs: number; maxMs: number };
  setTimeout?: (fn: () => void, ms: number) => unknown;
}

type Listener = (message: string, channel: string) => void;

export class RedisLink {
  private cmdClient: RedisClient | null = null;
  private subClient: RedisClient | null = null;
  private readonly subs = new Map<string, Listener>();
  private generation = 0;
  private retryMs: number;
  private stopped = false;
  private connecting: Promise<void> | null = null;
  private lastError = "not connected yet";
  up = false;

  constructor(
    private readonly url: string,
    private readonly o: RedisLinkOptions,
  ) {
    this.retryMs = o.backoff?.initialMs ?? 200;
  }

  /** Why Redis is down (for /readyz and errors); "" while up. */
  get reason(): string {
    return this.up ? "" : this.lastError;
  }

  /** Connects in the background; resolves after the first attempt, whatever its outcome. */
  start(): Promise<void> {
    return this.connect();
  }

  private client(): RedisClient {
    // Our own supervisor reconnects, so that a reconnect always brings fresh subscriptions and no queued commands.
    const tls = this.tlsOptions();
    return new RedisClient(this.url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: this.o.timeoutMs, enableAutoPipelining: true, ...(tls ? { tls } : {}) });
  }

  private tlsOptions(): RedisTls | undefined {
    const t = this.o.tls;
    if (!t || (!t.ca?.length && !t.cert)) return undefined;
    return { ...(t.ca?.length ? { ca: t.ca } : {}), ...(t.cert ? { cert: t.cert, key: t.key } : {}) };
  }

  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    const gen = ++this.generation;
    this.connecting = (async () => {
      const cmd = this.client();
      const sub = this.client();
      try {
        await withTimeout(Promise.all([cmd.connect(), sub.connect()]), this.o.timeoutMs, "connecting to Redis");
        for (const [ch, fn] of this.subs) await sub.subscribe(ch, fn);
      } catch (e) {
        cmd.close();
        sub.close();
        // Bun's client says only that the connection closed: ask Redis once why (a refused or missing password).
        const why = (await diagnoseRedis(this.url, this.o.timeoutMs, this.tlsOptions()).catch(() => null)) ?? `cannot reach Redis: ${(e as Error).message}`;
        this.connecting = null;
        this.o.events?.error?.("connect", why);
        this.down(why, gen);
        return;
      }
      if (this.stopped || gen !== this.generation) {
        cmd.close();
        sub.close();
        this.connecting = null;
        return;
      }
      const lost = (e: Error) => this.down(`the Redis connection closed: ${e?.message ?? "closed"}`, gen);
      cmd.onclose = lost;
      sub.onclose = lost;
      this.cmdClient = cmd;
      this.subClient = sub;
      this.connecting = null;
      this.retryMs = this.o.backoff?.initialMs ?? 200;
      this.up = true;
      this.lastError = "";
      this.o.events?.state?.(true, "connected");
    })();
    return this.connecting;
  }

  private down(reason: string, gen: number): void {
    // Each connection's failure is handled once; later callbacks of the same (closed) clients are stale.
    if (gen !== this.generation) return;
    this.generation++;
    const wasUp = this.up;
    this.up = false;
    this.lastError = reason;
    const c = this.cmdClient;
    const s = this.subClient;
    this.cmdClient = this.subClient = null;
    if (c) (c.onclose = null), c.close();
    if (s) (s.onclose = null), s.close();
    if (wasUp) this.o.events?.state?.(false, reason);
    if (this.stopped) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.o.backoff?.maxMs ?? 2000);
    (this.o.setTimeout ?? setTimeout)(() => {
      if (!this.stopped && !this.up) void this.connect();
    }, delay);
  }

  /** One Redis command; RedisDown at once while Redis is away or when it does not answer within the timeout. */
  async cmd<T = unknown>(command: string, args: string[]): Promise<T> {
    const c = this.cmdClient;
    if (!this.up || !c) throw new RedisDown(`Redis is unreachable (${this.lastError})`);
    const gen = this.generation;
    const t0 = performance.now();
    try {
      const r = (await withTimeout(c.send(command, args), this.o.timeoutMs, `Redis ${command}`)) as T;
      this.o.events?.latency?.((performance.now() - t0) / 1000);
      return r;
    } catch (e) {
      const msg = (e as Error).message;
      // A script or argument error is ours to report; a timeout or a broken connection means Redis is down.
      if (e instanceof RedisTimeoutError || !c.connected) {
        this.o.events?.error?.(e instanceof RedisTimeoutError ? "timeout" : "command", msg);
        this.down(msg, gen);
        throw new RedisDown(`Redis is unreachable (${msg})`);
      }
      this.o.events?.error?.("command", msg);
      throw e;
    }
  }

  /** Subscribes now (when up) and again after every reconnect. */
  async subscribe(channel: string, fn: Listener): Promise<void> {
    this.subs.set(channel, fn);
    if (this.up && this.subClient) await this.subClient.subscribe(channel, fn);
  }

  stop(): void {
    this.stopped = true;
    this.up = false;
    this.cmdClient?.close();
    this.subClient?.close();
    this.cmdClient = this.subClient = null;
  }
}

export class RedisTimeoutError extends Error {
  override name = "RedisTimeoutError";
  readonly code: CodeOf<"RedisTimeoutError"> = "redis_timeout";
}

/**
 * `p`, or a RedisTimeoutError after `ms` of the process's own time (own-time.ts). A command issued just before a stall
 * is written only after it (Bun's client pipelines: it writes on the next turn), and counting the stall as Redis's would
 * make a healthy node drop its link, and its uptime (split-watch.ts), again and again.
 */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let cancel = () => {};
  return Promise.race([
    p,
    new Promise<never>((_, rej) => {
      cancel = ownTimeDeadline(ms, () => rej(new RedisTimeoutError(`${what} took longer than ${ms} ms`)));
    }),
  ]).finally(() => cancel());
}

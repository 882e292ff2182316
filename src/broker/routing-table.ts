// One config version's routing table (upstreams with their clients and monitors, aliases, capture, limits): built once, swapped whole.
//
// As cloudflared's orchestrator does with its ingress rules: a reload builds the next table beside the current one and
// the broker swaps its reference in one assignment. A request reads the table once, when it starts, and keeps it to its
// end, so it never sees half of one version and half of the next (an alias from the new config with the old upstreams).
// Upstreams whose own config did not change are carried over as the same objects (state, metrics, connection pool).
import { resolved } from "../config/resolve.ts";
import type { Config, UpstreamConfig } from "../config/schema.ts";
import { aliasTable, type AliasTable } from "./aliases.ts";
import type { GateLimits } from "./gate.ts";
import type { HealthMonitor } from "./health-monitor.ts";
import { createUpstreamClient, type UpstreamClient } from "./upstream-client.ts";
import type { Upstream } from "./upstream.ts";

/** An upstream and what serves it: its health monitor, the pooled client for proxied requests, and the fetch for listings. */
export interface UpstreamEntry {
  readonly upstream: Upstream;
  readonly monitor: HealthMonitor;
  /** Proxied requests. */
  readonly client: UpstreamClient;
  /** Model listings (fetch). */
  readonly fetch: typeof fetch;
  readonly session: { close(): void } | null;
}

export class RoutingTable {
  /** The upstream objects in config order, for the router (readonly by type; nothing writes it). */
  readonly upstreams: readonly Upstream[];
  /** [[aliases]]: requested name → the model to route to and ask for. */
  readonly aliases: AliasTable;
  /** [dashboard] capture_bodies and body_cap. */
  readonly capture: Readonly<{ enabled: boolean; cap: number }>;
  /** [proxy] max_attempts, sticky, queue_limit and queue_timeout. */
  readonly maxAttempts: number;
  readonly sticky: boolean;
  readonly queue: Readonly<GateLimits>;

  constructor(
    /** Counts up from 0 with each reload. */
    readonly version: number,
    readonly config: Config,
    readonly entries: ReadonlyMap<string, UpstreamEntry>,
  ) {
    // Not Object.freeze'd: JSC reads a frozen array several times slower, and the router reads this one per request.
    this.upstreams = [...entries.values()].map((e) => e.upstream);
    this.aliases = aliasTable(config);
    this.capture = Object.freeze({ enabled: config.dashboard.capture_bodies, cap: config.dashboard.body_cap });
    this.maxAttempts = config.proxy.max_attempts;
    this.sticky = config.proxy.sticky;
    this.queue = Object.freeze({ queueLimit: config.proxy.queue_limit, queueTimeoutMs: resolved(config).proxy.queue_timeout });
    Object.freeze(this);
  }

  /** The client holding the upstream's connection pool; a one-off client for an upstream a reload retired since. */
  clientFor(u: Upstream): UpstreamClient {
    const e = this.entries.get(u.name);
    return e && e.upstream === u && !u.retired ? e.client : createUpstreamClient(u);
  }

  /** A request could not reach the upstream: check its health now rather than at the next interval (not once retired). */
  suspect(u: Upstream): void {
    const e = this.entries.get(u.name);
    if (e && e.upstream === u && !u.retired) void e.monitor.check();
  }
}

/** A table with no upstreams (before start, after stop). */
export const emptyTable = (config: Config, version = 0): RoutingTable => new RoutingTable(version, config, new Map());

/**
 * The next version of `prev` for `config`: an upstream whose config is the same (and the metrics window too) keeps its
 * entry; the others are opened with `open` (new Upstream objects) and the entries left behind are returned as
 * `retired`, for the caller to close once the new table is in place (in-flight requests finish on theirs).
 */
export function nextTable(prev: RoutingTable, config: Config, open: (c: UpstreamConfig) => UpstreamEntry): { table: RoutingTable; retired: UpstreamEntry[]; reconfigured: Set<string> } {
  const windowChanged = config.metrics.window !== prev.config.metrics.window;
  const entries = new Map<string, UpstreamEntry>();
  const retired: UpstreamEntry[] = [];
  const reconfigured = new Set<string>();
  const wanted = new Set(config.upstreams.map((c) => c.name));
  for (const c of config.upstreams) {
    const e = prev.entries.get(c.name);
    if (e && !windowChanged && JSON.stringify(c) === e.upstream.key) entries.set(c.name, e);
  }
  for (const [name, e] of prev.entries) {
    if (entries.get(name) === e) continue;
    retired.push(e);
    if (wanted.has(name)) reconfigured.add(name);
  }
  // A rebuilt upstream keeps its totals: they count since the daemon started (status, /api/v1/metrics), not since its last edit.
  const reopened = (c: UpstreamConfig): UpstreamEntry => {
    const e = open(c);
    const before = prev.entries.get(c.name);
    if (before) e.upstream.metrics.carryTotals(before.upstream.metrics);
    return e;
  };
  // Config order: the router's tie-breaks and the listings read the upstreams in the order the config names them.
  const ordered = new Map<string, UpstreamEntry>();
  for (const c of config.upstreams) ordered.set(c.name, entries.get(c.name) ?? reopened(c));
  return { table: new RoutingTable(prev.version + 1, config, ordered), retired, reconfigured };
}

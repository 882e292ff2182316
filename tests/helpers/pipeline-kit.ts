// Test kit for the broker pipeline's stage units: a routing table of scripted upstreams, and an Exchange at a stage's door.
import { testConfig } from "./test-config.ts";
import type { Config, UpstreamConfig } from "../../src/config/schema.ts";
import { EventBus, type DaemonEvent } from "../../src/core/events.ts";
import { routeOf } from "../../src/core/model-routes.ts";
import { Exchange } from "../../src/broker/exchange.ts";
import type { HealthMonitor } from "../../src/broker/health-monitor.ts";
import { RoutingTable, type UpstreamEntry } from "../../src/broker/routing-table.ts";
import type { ReadResult, UpstreamClient, UpstreamReply, UpstreamRequest } from "../../src/broker/upstream-client.ts";
import { Upstream } from "../../src/broker/upstream.ts";
import { requestDialect } from "../../src/broker/pipeline/answer-error.ts";

/** A config from TOML (sections after [api] and [proxy], whose listen addresses are ephemeral). */
export const kitConfig = testConfig;

export const upstreams = (...names: string[]) => names.map((n) => `[[upstreams]]\nname = "${n}"\nurl = "http://127.0.0.1:9/${n}"\n`).join("");

/** A reply as an upstream client hands it over, from a status, headers and body chunks. */
export function reply(status: number, headers: Record<string, string>, chunks: string[] = [], opts: { breakAfter?: number } = {}): UpstreamReply & { cancelled: boolean } {
  const enc = new TextEncoder();
  const parts = chunks.map((c) => enc.encode(c));
  let i = 0;
  const r = {
    status,
    statusText: "",
    hasBody: parts.length > 0,
    cancelled: false,
    header: (n: string) => headers[n] ?? null,
    clientHeaders: () => new Headers(headers),
    async bytes() {
      if (opts.breakAfter !== undefined) throw new Error("socket closed");
      const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
      let o = 0;
      for (const p of parts) (out.set(p, o), (o += p.byteLength));
      return out;
    },
    read(): ReadResult {
      if (opts.breakAfter !== undefined && i >= opts.breakAfter) throw new Error("socket closed");
      if (i >= parts.length) return { done: true, value: [] };
      return { done: false, value: [parts[i++]!] };
    },
    cancel() {
      r.cancelled = true;
    },
  };
  return r;
}

/** A scripted upstream client: each send takes the next step (a reply, or an Error thrown as a connection failure). */
export class ScriptedClient implements UpstreamClient {
  sent: UpstreamRequest[] = [];
  constructor(private readonly steps: (UpstreamReply | Error)[]) {}
  async send(req: UpstreamRequest): Promise<UpstreamReply> {
    this.sent.push(req);
    const s = this.steps.shift() ?? new Error("no scripted reply left");
    if (s instanceof Error) throw s;
    return s;
  }
  close(): void {}
}

export interface Kit {
  table: RoutingTable;
  events: EventBus;
  seen: DaemonEvent[];
  clients: Map<string, ScriptedClient>;
  /** Health checks asked for (suspect), by upstream name. */
  checks: string[];
  up(name: string): Upstream;
  /** An Exchange as the pipeline opens it, for a request on `path` (method POST unless given). */
  exchange(path: string, opts?: { method?: string; source?: "local" | "tunnel"; signal?: AbortSignal }): Exchange;
}

/** A table of the config's upstreams, each up and serving `models`, with a scripted client per upstream. */
export function kit(config: Config, scripts: Record<string, (UpstreamReply | Error)[]> = {}, models: string[] = ["m:latest"]): Kit {
  const events = new EventBus();
  const seen: DaemonEvent[] = [];
  events.on("*", (e) => void seen.push(e));
  const clients = new Map<string, ScriptedClient>();
  const checks: string[] = [];
  const entries = new Map<string, UpstreamEntry>();
  for (const c of config.upstreams as UpstreamConfig[]) {
    const u = new Upstream(c, 60_000);
    u.state = "up";
    u.setModels(models);
    const client = new ScriptedClient(scripts[c.name] ?? []);
    clients.set(c.name, client);
    const monitor = { check: async () => void checks.push(c.name) } as unknown as HealthMonitor;
    entries.set(c.name, { upstream: u, monitor, client, fetch, session: null });
  }
  const table = new RoutingTable(1, config, entries);
  return {
    table,
    events,
    seen,
    clients,
    checks,
    up: (name) => entries.get(name)!.upstream,
    exchange(path, opts = {}) {
      const ex = new Exchange(opts.source ?? "local", opts.method ?? "POST", path, null, events, table.capture, opts.signal ?? null);
      ex.table = table;
      ex.route = routeOf(path);
      ex.dialect = requestDialect(ex.route);
      return ex;
    },
  };
}

/** The request.completed records emitted so far. */
export const records = (k: Kit) => k.seen.filter((e) => e.type === "request.completed").map((e) => e.data as { status: number; error: string | null; upstream: string | null; model: string | null });

// A relay node's part in a cluster: it claims the tunnels whose agents connect here and keeps their leases, fences a
// tunnel another node took, finds a tunnel's owner (cached; dropped on Redis pub/sub), sends requests on to it, shares
// requests_per_minute through Redis, and degrades to local service and per-node limits while Redis is away.
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import type { Server } from "bun";
import { ERROR_CODE_HEADER, HttpError } from "../../core/http-error.ts";
import { logger } from "../../core/log.ts";
import type { Session } from "../../protocol/session.ts";
import type { AgentSessions, TunnelInfo } from "../agent-sessions.ts";
import { relayMs, type RelayConfig } from "../config.ts";
import type { ClusterRouting, Forwarder } from "../forward.ts";
import type { RelayMetrics } from "../metrics.ts";
import { startInternalServer } from "./internal-server.ts";
import { parseOwnerChange, TunnelLeases, type Lease } from "./leases.ts";
import { NODE_AUTH_HEADER, signNodeRequest } from "./node-auth.ts";
import { NodeRegistry, type NodeInfo } from "./node-registry.ts";
import { ENTRY_NODE_HEADER, OWNER_NODE_HEADER, ownerUnreachable, sendToOwner } from "./owner-forward.ts";
import { SharedRateWindow } from "./rate-window.ts";
import { RedisDown, RedisLink } from "./redis-link.ts";

const log = logger("relay");

export interface ClusterDeps {
  config: RelayConfig;
  metrics: RelayMetrics;
  sessions: AgentSessions;
  /** Serves a call for a tunnel whose agent is on this node (forward.ts `owner`). */
  owner: Forwarder;
  stopping(): boolean;
}

export type ClusterListing = {
  tunnels: (TunnelInfo & { node: string })[];
  nodes: { id: string; url: string; reachable: boolean }[];
  redis: "up" | "down";
};

/** The node's shared secret: at least 32 bytes; a file others can read is refused (it signs node-to-node calls). */
export function readSharedSecret(file: string): Uint8Array {
  const st = statSync(file);
  if (st.mode & 0o077) throw new Error(`${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const bytes = new Uint8Array(readFileSync(file));
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 10 || bytes[end - 1] === 13)) end--;
  if (end < 32) throw new Error(`${file} holds ${end} bytes; the cluster secret needs at least 32 (e.g. openssl rand -base64 48)`);
  return bytes.subarray(0, end);
}

interface Held {
  session: Session;
  /** null until Redis confirmed the claim (pending, or Redis was away). */
  epoch: number | null;
}

export class RelayCluster implements ClusterRouting {
  readonly nodeId: string;
  readonly url: string;
  private readonly link: RedisLink;
  private readonly leases: TunnelLeases;
  private readonly registry: NodeRegistry;
  private readonly rate: SharedRateWindow;
  private readonly held = new Map<string, Held>();
  private readonly owners = new Map<string, { lease: Lease; at: number }>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private internal: Server<undefined> | null = null;
  private readonly ms;
  private liveNodes = 0;

  constructor(
    private readonly d: ClusterDeps,
    private readonly secret: Uint8Array,
  ) {
    const c = d.config.cluster;
    this.ms = relayMs(d.config).cluster;
    this.nodeId = c.node_id || `${hostname()}-${process.pid}`;
    this.url = (c.advertise_url || `http://${c.internal_listen}`).replace(/\/$/, "");
    const m = d.metrics;
    this.link = new RedisLink(c.redis_url, {
      timeoutMs: this.ms.redis_timeout,
      events: {
        latency: (s) => m.redisLatency.observe(s),
        error: (kind) => m.redisErrors.inc({ kind }),
        state: (up, reason) => this.onRedisState(up, reason),
      },
    });
    this.leases = new TunnelLeases(this.link, this.nodeId, this.ms.lease_ttl, this.url);
    this.registry = new NodeRegistry(this.link, { id: this.nodeId, url: this.url, startedAt: new Date().toISOString() }, this.ms.node_ttl);
    this.rate = new SharedRateWindow(this.link, this.nodeId);
    m.node.set({ node: this.nodeId }, 1);
  }

  get redisUp(): boolean {
    return this.link.up;
  }

  async start(): Promise<void> {
    this.internal = startInternalServer(this.d.config.cluster.internal_listen, {
      secret: this.secret,
      tunnel: (req, id, path) => this.fromOtherNode(req, id, path),
      tunnels: () => ({ node: this.nodeId, tunnels: this.d.sessions.listing() }),
    });
    this.d.sessions.hooks = { opened: (id, s) => this.opened(id, s), closed: (id, s) => this.closed(id, s) };
    await this.link.subscribe(this.leases.channel, (msg) => this.onOwnerChange(msg));
    await this.link.start();
    this.timers.push(setInterval(() => void this.renewAll(), Math.max(200, this.ms.lease_ttl / 3)));
    this.timers.push(setInterval(() => void this.beat(), Math.max(200, this.ms.node_ttl / 3)));
    log.info("relay cluster node", { node: this.nodeId, internal: this.url, redis: this.link.up ? "up" : `down (${this.link.reason})` });
  }

  /** Leaves the cluster: gives up the leases still held (agents were sent away), stops beating, closes listeners. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (this.link.up) {
      await Promise.allSettled([...this.held].map(([id, h]) => (h.epoch === null ? Promise.resolve() : this.leases.release(id, h.epoch))));
      await this.registry.leave().catch(() => {});
    }
    this.held.clear();
    this.link.stop();
    await this.internal?.stop(true);
  }

  // ---- local agents ----

  private opened(id: string, session: Session): void {
    this.held.set(id, { session, epoch: null });
    void this.claim(id);
  }

  private closed(id: string, session: Session): void {
    const h = this.held.get(id);
    if (!h || h.session !== session) return;
    this.held.delete(id);
    if (h.epoch !== null && this.link.up) this.leases.release(id, h.epoch).catch(() => {});
  }

  private async claim(id: string): Promise<void> {
    const h = this.held.get(id);
    if (!h) return;
    try {
      const { epoch, previous } = await this.leases.claim(id);
      if (this.held.get(id) !== h) {
        // The agent left while the claim was on its way.
        await this.leases.release(id, epoch);
        return;
      }
      h.epoch = epoch;
      this.owners.delete(id);
      if (previous && previous !== this.nodeId) {
        this.d.metrics.takeovers.inc();
        log.info("tunnel taken over from another node", { tunnel: id, from: previous, epoch });
      }
    } catch (e) {
      if (!(e instanceof RedisDown)) log.warn("tunnel claim failed", { tunnel: id, error: e });
      // Claimed again when Redis is back (renewAll).
    }
  }

  private async renewAll(): Promise<void> {
    if (!this.link.up) return;
    for (const [id, h] of [...this.held]) {
      if (h.epoch === null) {
        await this.claim(id);
        continue;
      }
      try {
        const r = await this.leases.renew(id, h.epoch);
        this.d.metrics.leaseRenewals.inc({ result: r });
        if (r === "fenced") this.fence(id, h, "its lease was taken by another node");
      } catch (e) {
        this.d.metrics.leaseRenewals.inc({ result: "redis_down" });
        if (e instanceof RedisDown) return;
        log.warn("lease renewal failed", { tunnel: id, error: e });
      }
    }
  }

  private fence(id: string, h: Held, why: string): void {
    if (this.held.get(id) === h) this.held.delete(id);
    if (this.d.sessions.fence(id, h.session, `another relay node holds tunnel "${id}" now`)) {
      this.d.metrics.fenced.inc();
      log.warn("tunnel fenced: no longer served by this node", { tunnel: id, reason: why });
    }
  }

  private onOwnerChange(message: string): void {
    const c = parseOwnerChange(message);
    if (!c) return;
    this.owners.delete(c.tunnel);
    if (c.node === null || c.node === this.nodeId) return;
    const h = this.held.get(c.tunnel);
    // A newer claim elsewhere: the agent connected there, so this node must stop answering for the tunnel at once.
    if (h && h.epoch !== null && c.epoch > h.epoch) this.fence(c.tunnel, h, `node ${c.node} claimed it (epoch ${c.epoch})`);
  }

  private async beat(): Promise<void> {
    if (!this.link.up) return;
    try {
      await this.registry.beat();
      this.liveNodes = (await this.registry.alive()).length;
      this.d.metrics.clusterNodes.set(this.liveNodes);
    } catch {}
  }

  private onRedisState(up: boolean, reason: string): void {
    this.d.metrics.redisUp.set(up ? 1 : 0);
    this.owners.clear();
    if (up) {
      log.info("cluster Redis reachable; leases renewed, limits shared again", { node: this.nodeId });
      void this.beat();
      void this.renewAll();
    } else log.warn("cluster Redis unreachable: serving local tunnels only, limits per node", { node: this.nodeId, reason });
  }

  // ---- requests ----

  async admitRate(id: string, perMinute: number, local: () => number | null): Promise<number | null> {
    if (!this.link.up) return local();
    try {
      return await this.rate.admit(id, perMinute);
    } catch {
      // Redis went away mid-request: this node's own bucket, until it is back.
      return local();
    }
  }

  private async ownerOf(id: string): Promise<Lease | null> {
    const c = this.owners.get(id);
    // The cache is dropped on every published change; the age bound covers a missed message.
    if (c && performance.now() - c.at < this.ms.lease_ttl) return c.lease;
    const lease = await this.leases.owner(id);
    if (lease) this.owners.set(id, { lease, at: performance.now() });
    else this.owners.delete(id);
    return lease;
  }

  async forwardToOwner(req: Request, id: string, path: string): Promise<Response> {
    const m = this.d.metrics;
    let lease: Lease | null;
    try {
      lease = this.link.up ? await this.ownerOf(id) : null;
      if (!this.link.up) throw new RedisDown(this.link.reason);
    } catch (e) {
      m.forwarded.inc({ result: "redis_down" });
      return new HttpError("unavailable", `this relay node cannot reach the cluster's Redis (${(e as Error).message}), so it cannot find the node holding tunnel "${id}"; retry in a moment`).toDialectResponse(path, { "retry-after": "2" });
    }
    if (!lease) return new HttpError("tunnel_offline", `tunnel "${id}" is not connected`).toDialectResponse(path);
    if (lease.node === this.nodeId || !lease.url) {
      m.forwarded.inc({ result: "moving" });
      return new HttpError("tunnel_moving", `tunnel "${id}" is between relay nodes; retry in a moment`).toDialectResponse(path, { "retry-after": "1" });
    }
    const r = await sendToOwner(req, id, path, { secret: this.secret, nodeId: this.nodeId, ownerUrl: lease.url });
    if (r.ok) {
      m.forwarded.inc({ result: "ok" });
      // The node we thought held it says it does not (a missed change): look it up afresh next time.
      if (r.response.headers.get(ERROR_CODE_HEADER) === "tunnel_moving") this.owners.delete(id);
      return r.response;
    }
    m.forwarded.inc({ result: r.aborted ? "client_aborted" : "owner_unreachable" });
    if (!r.aborted) this.owners.delete(id);
    return ownerUnreachable(id, path, r.message);
  }

  /** Marks a tunnel answer with the node that took the call (and, when it held the agent itself, the owner). */
  stamp(res: Response): Response {
    try {
      if (!res.headers.has(ENTRY_NODE_HEADER)) res.headers.set(ENTRY_NODE_HEADER, this.nodeId);
      if (!res.headers.has(OWNER_NODE_HEADER)) res.headers.set(OWNER_NODE_HEADER, this.nodeId);
    } catch {}
    return res;
  }

  private async fromOtherNode(req: Request, id: string, path: string): Promise<Response> {
    const res = this.d.stopping()
      ? new HttpError("tunnel_moving", `the relay node holding tunnel "${id}" is shutting down; retry in a moment`).toDialectResponse(path, { "retry-after": "1" })
      : await this.d.owner(req, id, path);
    this.d.metrics.forwardedIn.inc({ status: String(res.status) });
    try {
      res.headers.set(OWNER_NODE_HEADER, this.nodeId);
    } catch {}
    return res;
  }

  // ---- cluster views ----

  async listing(): Promise<ClusterListing> {
    const own = this.d.sessions.listing().map((t) => ({ ...t, node: this.nodeId }));
    if (!this.link.up) return { tunnels: own, nodes: [{ id: this.nodeId, url: this.url, reachable: true }], redis: "down" };
    let nodes: NodeInfo[] = [];
    try {
      nodes = await this.registry.alive();
    } catch {}
    const others = await Promise.all(
      nodes
        .filter((n) => n.id !== this.nodeId)
        .map(async (n) => {
          try {
            const target = "/internal/tunnels";
            const res = await fetch(n.url + target, { headers: { [NODE_AUTH_HEADER]: signNodeRequest(this.secret, this.nodeId, "GET", target) }, signal: AbortSignal.timeout(2000) });
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
            const body = (await res.json()) as { tunnels: TunnelInfo[] };
            return { node: n, tunnels: body.tunnels.map((t) => ({ ...t, node: n.id })), reachable: true };
          } catch {
            return { node: n, tunnels: [], reachable: false };
          }
        }),
    );
    return {
      tunnels: [...own, ...others.flatMap((o) => o.tunnels)],
      nodes: [{ id: this.nodeId, url: this.url, reachable: true }, ...others.map((o) => ({ id: o.node.id, url: o.node.url, reachable: o.reachable }))],
      redis: "up",
    };
  }

  readiness(): { node: string; redis: "up" | "down"; reason?: string; nodes: number } {
    return { node: this.nodeId, redis: this.link.up ? "up" : "down", reason: this.link.up ? undefined : this.link.reason, nodes: this.liveNodes };
  }
}

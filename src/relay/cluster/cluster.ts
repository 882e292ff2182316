// A relay node's part in a cluster: it claims the tunnels whose agents connect here and keeps their leases, fences a
// tunnel another node took, finds a tunnel's owner (cached; dropped on Redis pub/sub), sends requests on to it, shares
// requests_per_minute through Redis, and degrades to local service and per-node limits while Redis is away. Only
// records signed with the cluster's secret are honoured: a forged or foreign lease or heartbeat is ignored and logged.
import { bindAddress } from "../../config/listen.ts";
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { getCACertificates } from "node:tls";
import type { Server } from "bun";
import { ERROR_CODE_HEADER, HttpError } from "../../core/http-error.ts";
import { logger } from "../../core/log.ts";
import type { Session } from "../../protocol/session.ts";
import { MOVE_HOLD_MS, type AgentSessions, type TunnelInfo } from "../agent-sessions.ts";
import { relayMs, type RelayConfig } from "../config.ts";
import type { ClusterRouting, Forwarder, Forwarders } from "../forward.ts";
import type { RateRefusal } from "../limits.ts";
import type { ChunkSource } from "../resumable-body.ts";
import type { RelayMetrics } from "../metrics.ts";
import { clusterKeys, clusterPrefix, type ClusterKeys } from "./cluster-keys.ts";
import { HopWatch } from "./hop-watch.ts";
import { startInternalServer } from "./internal-server.ts";
import { parseOwnerChange, TunnelLeases, type Lease } from "./leases.ts";
import { NodeRegistry, type NodeInfo } from "./node-registry.ts";
import { askNode, type NodeAnswer } from "./node-probe.ts";
import { ENTRY_NODE_HEADER, OWNER_NODE_HEADER, bodiless, ownerUnreachable, resumeAt, sendToOwner, signedHeaders, smallBody } from "./owner-forward.ts";
import { SharedRateWindow } from "./rate-window.ts";
import { RedisUptime } from "./redis-uptime.ts";
import { SplitWatch } from "./split-watch.ts";
import { RedisDown, RedisLink, type RedisTls } from "./redis-link.ts";
import { writeRefusal } from "./write-refusal.ts";

const log = logger("relay");

/**
 * An agent refused by a node standing aside that keeps coming back this long can reach no other node (its address is
 * this node's, or the balancer kept choosing it): it is served here after all, as before the split. Longer than a
 * balancer needs to take a node that is not ready out (HAProxy in the docs: 1 s).
 */
export const AGENT_RETURN_MS = 2_000;
/** How long a node seen as a member is still asked whether it reaches Redis (a node gone is only a failed call). */
const PEER_MEMORY_MS = 60_000;

export interface ClusterDeps {
  config: RelayConfig;
  metrics: RelayMetrics;
  sessions: AgentSessions;
  /** Serves a call for a tunnel whose agent is on this node (forward.ts `owner`). */
  owner: Forwarder;
  /** Resumes answers: the ones this node's clients wait for, and the ones other nodes ask for here (forward.ts). */
  resume?: Pick<Forwarders, "resumeHooks" | "resumeHere">;
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

/** TLS material for a rediss:// Redis from [cluster]: a private CA added to the system's trust, a client certificate. */
export function redisTls(c: RelayConfig["cluster"]): RedisTls | undefined {
  const read = (k: "redis_ca_file" | "redis_cert_file" | "redis_key_file") => {
    try {
      return readFileSync(c[k], "utf8");
    } catch (e) {
      throw new Error(`cannot read cluster.${k} ${c[k]}: ${(e as Error).message}`);
    }
  };
  if (!c.redis_ca_file && !c.redis_cert_file) return undefined;
  const ca = c.redis_ca_file ? [...new Set([...getCACertificates("default"), ...getCACertificates("system")]), read("redis_ca_file")] : undefined;
  return { ca, ...(c.redis_cert_file ? { cert: read("redis_cert_file"), key: read("redis_key_file") } : {}) };
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
  /**
   * Leases of tunnels whose agent this node sent away (GO_AWAY: shutdown, token expiry), kept, not released: until the
   * agent's new node claims the tunnel, other nodes find this node and answer `tunnel_moving` (retry), not
   * `tunnel_offline`. Released on leaving the cluster when the agent did not come back in time (movesClaimed());
   * unrenewed, they expire after lease_ttl.
   */
  private readonly moved = new Map<string, number>();
  private readonly owners = new Map<string, { lease: Lease; at: number }>();
  /** This node's calls in flight at other nodes (aborted when such a node freezes). */
  private readonly hops = new HopWatch();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private internal: Server<undefined> | null = null;
  private readonly ms;
  private readonly keys: ClusterKeys;
  private liveNodes = 0;
  /** The verified members as of the last heartbeat round (a lease naming another node is not followed). */
  private members = new Set<string>();
  /** When `members` was read from Redis (a view older than node_ttl says nothing about who still beats). */
  private membersAt = -Infinity;
  /** A sweep of the calls at other nodes is under way (its probes may take a while): one at a time. */
  private sweeping = false;
  /** Ignored records already logged (each once, not once per heartbeat). */
  private readonly reported = new Set<string>();
  /** Why Redis refuses this node's writes (write-refusal.ts), or null; cleared by the next heartbeat it accepts. */
  private refusing: string | null = null;
  /** Why the last attempt to connect to Redis failed, as logged (each new reason once per outage). */
  private connectFailure = "";
  /**
   * The other members read from Redis within the last PEER_MEMORY_MS, kept through a split: the nodes to ask whether
   * they still reach it (after an outage a node may have read the members before the others beat again).
   */
  private readonly peers = new Map<string, { node: NodeInfo; at: number }>();
  /** Whether a split cut this node off from Redis while a peer keeps it (split-watch.ts): then it stands aside. */
  private readonly split: SplitWatch;
  /** A peer's question whether this node reaches Redis, being answered (split-watch.ts; one write for all askers). */
  private checkingRedis: Promise<{ node: string; redis: "up" | "down"; up_ms: number }> | null = null;
  /** Agents refused while standing aside, by tunnel: the first and the latest refusal of their run of attempts. */
  private readonly refusedAgents = new Map<string, { first: number; last: number }>();
  /** How long Redis has taken this node's writes without a break longer than a blip (redis-uptime.ts). */
  private readonly uptime: RedisUptime;
  /**
   * Whether this node has reached Redis since it started. Before it has, it knows no other node (the members are read
   * from Redis), so it can neither ask whether they reach Redis (split-watch.ts) nor find a tunnel's owner: an agent it
   * took would be offline to every node that reaches Redis. It stands aside until then (standingAside()). Once set, a
   * later "reachable" is a recovery (onRedisState()'s log line). Set only in onRedisState(): the link reports every
   * connection there as it comes up, so it is true whenever the link is up.
   */
  private reachedRedis = false;

  constructor(
    private readonly d: ClusterDeps,
    secret: Uint8Array,
  ) {
    const c = d.config.cluster;
    this.keys = clusterKeys(secret);
    const prefix = clusterPrefix(this.keys);
    this.ms = relayMs(d.config).cluster;
    this.uptime = new RedisUptime(this.ms.lease_ttl / 3);
    this.nodeId = c.node_id || `${hostname()}-${process.pid}`;
    // By default the internal listener's own address, "localhost" as the 127.0.0.1 it is bound at (a peer resolving
    // localhost to ::1 would find nothing there).
    const bound = bindAddress(c.internal_listen);
    this.url = (c.advertise_url || `http://${bound.hostname.includes(":") ? `[${bound.hostname}]` : bound.hostname}:${bound.port}`).replace(/\/$/, "");
    const m = d.metrics;
    this.link = new RedisLink(c.redis_url, {
      timeoutMs: this.ms.redis_timeout,
      tls: redisTls(c),
      events: {
        latency: (s) => m.redisLatency.observe(s),
        error: (kind, message) => {
          m.redisErrors.inc({ kind });
          if (kind === "connect") this.cannotConnect(message);
        },
        state: (up, reason) => this.onRedisState(up, reason),
      },
    });
    this.leases = new TunnelLeases(this.link, this.keys.record, this.nodeId, this.ms.lease_ttl, this.url, prefix);
    this.registry = new NodeRegistry(this.link, this.keys.record, { id: this.nodeId, url: this.url, startedAt: new Date().toISOString() }, this.ms.node_ttl, prefix);
    this.rate = new SharedRateWindow(this.link, this.nodeId, 60_000, prefix);
    m.node.set({ node: this.nodeId }, 1);
    this.split = new SplitWatch({
      leaseTtlMs: this.ms.lease_ttl,
      usable: () => this.usable,
      peers: () => [...this.peers.values()].map((p) => p.node),
      redisUptime: async (p) => {
        const r = await this.ask(p.id, p.url, "/internal/redis", this.probeMs + this.ms.redis_timeout);
        return r?.redis === "up" && typeof r.up_ms === "number" ? r.up_ms : null;
      },
      aside: (peer) => this.standAside(peer),
      back: () => (this.refusedAgents.clear(), log.info("cluster Redis reachable again or no peer reaches it either: taking agents again", { node: this.nodeId })),
    });
  }

  get redisUp(): boolean {
    return this.link.up;
  }

  /** Redis is reachable and takes this node's writes: leases, heartbeats and the shared limits can be kept. */
  private get usable(): boolean {
    return this.link.up && this.refusing === null;
  }

  /** Notes a write Redis refused (logged once per outage, not per command); false when `e` is no such refusal. */
  private refused(e: unknown): boolean {
    const why = writeRefusal(e);
    if (!why) return false;
    this.uptime.down();
    if (this.refusing === null) {
      this.d.metrics.redisUp.set(0);
      this.owners.clear();
      log.warn("cluster Redis refuses this node's writes: serving local tunnels only, limits per node", { node: this.nodeId, reason: why });
    }
    this.refusing = why;
    return true;
  }

  private writesAccepted(): void {
    this.uptime.up();
    if (this.refusing === null) return;
    this.refusing = null;
    this.d.metrics.redisUp.set(1);
    log.info("cluster Redis accepts this node's writes again; leases renewed, limits shared again", { node: this.nodeId });
    void this.renewAll();
  }

  async start(): Promise<void> {
    this.internal = startInternalServer(this.d.config.cluster.internal_listen, {
      key: this.keys.hop,
      nodeId: this.nodeId,
      refused: (code) => this.d.metrics.internalRefused.inc({ reason: code }),
      tunnel: (req, id, path) => this.fromOtherNode(req, id, path),
      tunnels: () => ({ node: this.nodeId, tunnels: this.d.sessions.listing() }),
      redis: () => this.redisCheck(),
      resume: this.d.resume && ((id, token, offset, signal) => this.d.resume!.resumeHere(id, token, offset, signal)),
    });
    this.d.sessions.hooks = { opened: (id, s) => this.opened(id, s), closed: (id, s) => this.closed(id, s) };
    await this.link.subscribe(this.leases.channel, (msg) => this.onOwnerChange(msg));
    await this.link.start();
    this.timers.push(setInterval(() => void this.renewAll(), Math.max(200, this.ms.lease_ttl / 3)));
    this.timers.push(setInterval(() => void this.beat(), Math.max(200, this.ms.node_ttl / 3)));
    this.timers.push(setInterval(() => void this.sweepHops(), Math.max(200, this.ms.node_ttl / 3)));
    this.timers.push(setInterval(() => void this.split.check(), Math.max(100, this.ms.lease_ttl / 6)));
    log.info("relay cluster node", { node: this.nodeId, internal: this.url, key_id: this.keys.keyId, redis: this.link.up ? "up" : `down (${this.link.reason})` });
    if (!this.reachedRedis)
      log.warn("not ready, taking no agents: this relay node has not reached the cluster's Redis since it started, so it knows no other node and cannot tell whether they reach Redis (an agent that reaches no other node is served after 2 s); ready once it reaches Redis", { node: this.nodeId, reason: this.link.reason });
  }

  /**
   * On shutdown, after the agents were sent away: until their new nodes claim the tunnels (or MOVE_HOLD_MS, as long as a
   * call is held for a move), this node keeps their leases and its listeners, so a call another node sends here
   * meanwhile is held and sent on to the new node. Leaving at once released the leases before the claims: a call at
   * another node in between found no owner and was answered 502 tunnel_offline while the agent was connected.
   */
  async movesClaimed(): Promise<void> {
    const moving = [...this.moved.keys()];
    // Without Redis no claim is heard (and no call is sent here by a lease): nothing to wait for.
    if (!moving.length || !this.link.up) return;
    log.info("leaving the cluster once the nodes its agents moved to have claimed their tunnels", { node: this.nodeId, tunnels: moving.length, wait_ms: MOVE_HOLD_MS });
    await Promise.all(moving.map((id) => this.d.sessions.settled(id, MOVE_HOLD_MS)));
  }

  /** Stops taking node-to-node calls; resolves when the ones in flight (held for a move, sent on) have ended. */
  async closeInternal(): Promise<void> {
    await this.internal?.stop(false);
  }

  /** Leaves the cluster: gives up the leases still held (agents were sent away), stops beating, closes listeners. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (this.link.up) {
      const epochs = [...[...this.held].flatMap(([id, h]) => (h.epoch === null ? [] : [[id, h.epoch] as const])), ...this.moved];
      await Promise.allSettled(epochs.map(([id, epoch]) => this.leases.release(id, epoch)));
      await this.registry.leave().catch(() => {});
    }
    this.held.clear();
    this.moved.clear();
    this.link.stop();
    await this.internal?.stop(true);
  }

  // ---- local agents ----

  private opened(id: string, session: Session): void {
    this.moved.delete(id);
    this.held.set(id, { session, epoch: null });
    void this.claim(id);
  }

  private closed(id: string, session: Session): void {
    const h = this.held.get(id);
    if (!h || h.session !== session) return;
    this.held.delete(id);
    if (h.epoch === null) return;
    // Sent away by this node: the agent is reconnecting (to another node, through the balancer); keep the lease so
    // the tunnel reads as moving, not offline, until its new node claims it.
    if (session.sentGoAway) this.moved.set(id, h.epoch);
    else if (this.link.up) this.leases.release(id, h.epoch).catch(() => {});
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
      if (!(e instanceof RedisDown) && !this.refused(e)) log.warn("tunnel claim failed", { tunnel: id, error: e });
      // Claimed again when Redis is back (renewAll).
    }
  }

  private async renewAll(): Promise<void> {
    if (!this.link.up) return;
    // The heartbeat goes first (same connection, so Redis runs it first): when Redis lost its records (restarted
    // empty, FLUSHALL), a lease this round puts back must not name a node that is not a member yet, or the other
    // nodes would refuse to forward there and log it as a forged record.
    if (this.held.size) await this.registry.beat().catch(() => {});
    for (const [id, h] of [...this.held]) {
      if (h.epoch === null) {
        await this.claim(id);
        continue;
      }
      try {
        const r = await this.leases.renew(id, h.epoch);
        this.d.metrics.leaseRenewals.inc({ result: r });
        if (r !== "fenced") this.split.wrote();
        if (r === "fenced") await this.fencedOrForged(id, h);
      } catch (e) {
        this.d.metrics.leaseRenewals.inc({ result: "redis_down" });
        if (e instanceof RedisDown || this.refused(e)) return;
        log.warn("lease renewal failed", { tunnel: id, error: e });
      }
    }
  }

  /** Reports an ignored record once (a forged lease is looked at on every renewal). */
  private ignored(what: string, fields: Record<string, unknown>): void {
    this.d.metrics.ignoredRecords.inc({ kind: / lease/.test(what) ? "lease" : "node" });
    this.once(`${what} ${JSON.stringify(fields)}`, what, fields);
  }

  /** One warning per `key`, however often it recurs (bounded: the set starts over past 1000 keys). */
  private once(key: string, what: string, fields: Record<string, unknown>): void {
    if (this.reported.has(key)) return;
    if (this.reported.size > 1000) this.reported.clear();
    this.reported.add(key);
    log.warn(what, fields);
  }

  /**
   * The tunnel's lease if it is honoured: signed with the cluster's secret and naming a live member (looked up afresh
   * when not in the last heartbeat round's view, so a node that just joined counts); else why not, or null: no lease.
   */
  private async honouredLease(id: string): Promise<{ lease: Lease } | { ignored: string; node: string; url: string } | null> {
    const r = await this.leases.record(id);
    if (!r) return null;
    if (!r.ok) return { ignored: "ignored a lease not signed with this cluster's secret", ...r.forged };
    const n = r.lease.node;
    if (n !== this.nodeId && !this.members.has(n) && !(await this.refreshMembers()).some((m) => m.id === n))
      return { ignored: "ignored a lease naming a node that is not a live member of this cluster", node: n, url: r.lease.url };
    return { lease: r.lease };
  }

  /** The lease is not ours any more: another node's claim fences us; a lease not honoured is taken back. */
  private async fencedOrForged(id: string, h: Held, why = "its lease was taken by another node", published = false): Promise<void> {
    const r = await this.honouredLease(id);
    // A message alone proves nothing (anyone on Redis can publish): with no lease to show for it, the renewal decides.
    if (!r && published) return;
    if (r && "ignored" in r) {
      this.ignored(`${r.ignored}; taking the tunnel back`, { tunnel: id, claimed_node: r.node, claimed_url: r.url });
      if (this.held.get(id) !== h) return;
      h.epoch = null;
      return this.claim(id);
    }
    if (r && r.lease.node === this.nodeId && r.lease.epoch === h.epoch) return;
    this.fence(id, h, why);
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
    if (c.node !== null && c.node !== this.nodeId) {
      // Another node took the tunnel: calls held here for its move follow it there.
      this.moved.delete(c.tunnel);
      this.d.sessions.moveEnded(c.tunnel);
    }
    if (c.node === null || c.node === this.nodeId) return;
    const h = this.held.get(c.tunnel);
    // A newer claim elsewhere: the agent connected there, so this node must stop answering for the tunnel at once,
    // once the lease proves it (anyone on Redis can publish; a forged lease is taken back instead).
    if (h && h.epoch !== null && c.epoch > h.epoch) void this.fencedOrForged(c.tunnel, h, `node ${c.node} claimed it (epoch ${c.epoch})`, true).catch(() => {});
  }

  private async beat(): Promise<void> {
    if (!this.link.up) return;
    try {
      await this.registry.beat();
      this.split.wrote();
      this.writesAccepted();
      await this.refreshMembers();
    } catch (e) {
      this.refused(e);
    }
  }

  /**
   * Calls waiting on a node that stopped beating and does not answer a probe (frozen: its connections never break)
   * are aborted, so their answers resume where the agent reconnected or end with their error line instead of hanging.
   * A node that still answers (only cut off from Redis) keeps its calls. Run on its own timer, not after a heartbeat:
   * while this node's own Redis is down (or refuses its writes) it sees no heartbeats, and its calls at a node that
   * froze meanwhile would hang; then the members it read last are not trusted past node_ttl, and every node waited on
   * is probed.
   */
  private async sweepHops(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const seen = performance.now() - this.membersAt <= this.ms.node_ttl;
      for (const w of this.hops.waitedOn()) {
        if ((seen && this.members.has(w.node)) || (await this.answers(w.node, w.url))) continue;
        const why = seen ? "no heartbeat, and no answer" : "this node cannot read heartbeats from Redis now, and no answer";
        const calls = this.hops.abort(w.node, `the relay node ${w.node} stopped answering (${why} within ${this.probeMs} ms)`);
        if (calls) log.warn("calls to a relay node that stopped answering were aborted", { node: w.node, calls });
      }
    } finally {
      this.sweeping = false;
    }
  }

  private get probeMs(): number {
    return Math.max(500, Math.min(2000, this.ms.node_ttl));
  }

  /** Whether `node`'s internal listener answers a signed request in time. */
  private async answers(node: string, url: string): Promise<boolean> {
    return (await this.ask(node, url)) !== null;
  }

  /** `node`'s JSON answer to a signed GET of `target` in time (null: none; {}: an error or not JSON, e.g. an older node). */
  private ask(node: string, url: string, target = "/internal/tunnels", ms = this.probeMs): Promise<NodeAnswer | null> {
    return askNode({ key: this.keys.hop, from: this.nodeId }, node, url, target, ms);
  }

  /**
   * Whether this node reaches Redis, for a peer cut off from it: proven by a heartbeat written now, not by what this
   * node last saw (when Redis froze for everyone, a node that has not noticed yet must not confirm it). One at a time.
   */
  private redisCheck(): Promise<{ node: string; redis: "up" | "down"; up_ms: number }> {
    this.checkingRedis ??= (async () => {
      try {
        if (!this.link.up) return "down" as const;
        await this.registry.beat();
        this.split.wrote();
        this.writesAccepted();
        return "up" as const;
      } catch (e) {
        this.refused(e);
        return "down" as const;
      }
    })()
      .then((redis) => ({ node: this.nodeId, redis, up_ms: redis === "up" ? this.uptime.ms() : 0 }))
      .finally(() => (this.checkingRedis = null));
    return this.checkingRedis;
  }

  /**
   * Cut off from Redis while `peer` reaches it: this node's leases will lapse, so its agents move now (GO_AWAY, a planned
   * move: they reconnect through the balancer, and a node that reaches Redis claims them) while the leases still send
   * other nodes' calls here; new agents and the balancer are turned away until Redis is back (standingAside()).
   */
  private standAside(peer: string): void {
    this.refusedAgents.clear();
    const agents = [...this.held].filter(([, h]) => !h.session.goingAway);
    log.warn("cut off from the cluster's Redis while another node reaches it: sending this node's agents to another node", { node: this.nodeId, reaches_redis: peer, agents: agents.length });
    for (const [id, h] of agents) {
      void this.d.sessions.sendAway(id, h.session, `relay node ${this.nodeId} is cut off from the cluster's Redis; reconnect to another node`);
      // No call is held here for the move: without Redis this node never hears the new node's claim, so a held call
      // would only wait out the hold. Each is answered at once (503, retry) and retried where the agent went.
      this.d.sessions.moveEnded(id);
    }
  }

  /**
   * Why tunnel `id`'s agent is turned away (this node stands aside: it retries through the balancer, to another node),
   * or null. One that keeps coming back for AGENT_RETURN_MS reaches no other node: it is served here after all.
   */
  refusesAgent(id: string): string | null {
    const why = this.standingAside();
    if (!why) return null;
    const now = performance.now();
    const r = this.refusedAgents.get(id);
    // A gap longer than a move's retries (200 ms apart) starts a new run: the agent was elsewhere meanwhile.
    if (!r || now - r.last > AGENT_RETURN_MS) this.refusedAgents.set(id, { first: now, last: now });
    else if (now - r.first >= AGENT_RETURN_MS) {
      this.refusedAgents.delete(id);
      log.warn("an agent turned away while this node is cut off from Redis keeps coming back: serving it here (no other node will reach it)", { node: this.nodeId, tunnel: id });
      return null;
    } else r.last = now;
    return why;
  }

  /** Why this node takes no agents and is not ready (cut off from Redis while a peer reaches it), or null. */
  standingAside(): string | null {
    if (!this.reachedRedis) return `this relay node has not reached the cluster's Redis since it started (${this.link.reason}): it knows no other node, and cannot tell whether they reach Redis: connect to another node`;
    if (this.split.confirmedBy === null || this.usable) return null;
    return `this relay node cannot reach the cluster's Redis (${this.readiness().reason}) while node ${this.split.confirmedBy} can: connect to another node`;
  }

  private async refreshMembers(): Promise<NodeInfo[]> {
    const m = await this.registry.members();
    for (const i of m.ignored) this.ignored("ignored a node heartbeat: not a member of this cluster", { key: i.key, reason: i.why });
    this.members = new Set(m.alive.map((n) => n.id));
    this.membersAt = performance.now();
    const now = performance.now();
    for (const n of m.alive) if (n.id !== this.nodeId) this.peers.set(n.id, { node: n, at: now });
    for (const [id, p] of this.peers) if (now - p.at > PEER_MEMORY_MS) this.peers.delete(id);
    this.liveNodes = m.alive.length;
    this.d.metrics.clusterNodes.set(this.liveNodes);
    return m.alive;
  }

  /** Logs why Redis cannot be reached (a new password, a refused port) once per reason, not at every retry. */
  private cannotConnect(reason: string): void {
    if (reason === this.connectFailure) return;
    this.connectFailure = reason;
    log.warn("cannot connect to the cluster's Redis", { node: this.nodeId, reason });
  }

  private onRedisState(up: boolean, reason: string): void {
    if (up) this.connectFailure = "";
    if (up) this.uptime.up();
    else this.uptime.down();
    this.d.metrics.redisUp.set(up && this.refusing === null ? 1 : 0);
    this.owners.clear();
    if (up) {
      // "Again" only after an outage: at start the node has just joined (a newcomer read the first line as a recovery).
      log.info(this.reachedRedis ? "cluster Redis reachable again; leases renewed, limits shared again" : "cluster Redis reachable; leases and limits shared through it", { node: this.nodeId });
      this.reachedRedis = true;
      void this.beat();
      void this.renewAll();
    } else log.warn("cluster Redis unreachable: serving local tunnels only, limits per node", { node: this.nodeId, reason });
  }

  // ---- requests ----

  async admitRate(id: string, perMinute: number, local: () => RateRefusal | null, client: string, clientPerMinute: number): Promise<RateRefusal | null> {
    if (!this.usable) return local();
    try {
      return await this.rate.admit(id, perMinute, client, clientPerMinute);
    } catch (e) {
      // Redis went away mid-request, or refuses writes: this node's own bucket, until it is back.
      this.refused(e);
      return local();
    }
  }

  /** The tunnel's owner: a signed lease naming a live member; "ignored" when the lease in Redis is neither. */
  private async ownerOf(id: string): Promise<Lease | null | "ignored"> {
    const c = this.owners.get(id);
    // The cache is dropped on every published change; the age bound covers a missed message.
    if (c && performance.now() - c.at < this.ms.lease_ttl) return c.lease;
    this.owners.delete(id);
    const r = await this.honouredLease(id);
    if (!r) return null;
    if ("ignored" in r) {
      // While Redis refuses writes no node can beat, so a lapsed membership proves nothing: not a forgery to report.
      if (this.refusing) return null;
      this.ignored(`${r.ignored}: not forwarding there`, { tunnel: id, claimed_node: r.node, claimed_url: r.url });
      return "ignored";
    }
    this.owners.set(id, { lease: r.lease, at: performance.now() });
    return r.lease;
  }

  async forwardToOwner(req: Request, id: string, path: string): Promise<Response> {
    const m = this.d.metrics;
    // What this node answers itself is counted here by status (as forward.ts counts its refusals); a call the owner
    // answered is counted at the owner, so the cluster's sum counts each client call once.
    const answered = (res: Response) => (m.requests.inc({ status: String(res.status) }), res);
    let lease: Lease | null | "ignored";
    try {
      lease = this.link.up ? await this.ownerOf(id) : null;
      if (!this.link.up) throw new RedisDown(this.link.reason);
      // Redis still answers reads, so a lease it holds is followed; none may only mean its holder could not renew it.
      if (!lease && this.refusing) throw new RedisDown(this.refusing);
    } catch (e) {
      m.forwarded.inc({ result: "redis_down" });
      return answered(new HttpError("unavailable", `this relay node cannot ${this.refusing && this.link.up ? "write to" : "reach"} the cluster's Redis (${(e as Error).message}), so it cannot find the node holding tunnel "${id}"; retry in a moment`).toDialectResponse(path, { "retry-after": "2" }));
    }
    if (!lease) return answered(new HttpError("tunnel_offline", `tunnel "${id}" is not connected`).toDialectResponse(path));
    if (lease === "ignored" || lease.node === this.nodeId || !lease.url) {
      m.forwarded.inc({ result: "moving" });
      return answered(new HttpError("tunnel_moving", `tunnel "${id}" is between relay nodes; retry in a moment`).toDialectResponse(path, { "retry-after": "1" }));
    }
    const resume = this.d.resume;
    const bytes = await smallBody(req);
    const to = (l: Lease & { url: string }) =>
      sendToOwner(req, id, path, {
        key: this.keys.hop,
        nodeId: this.nodeId,
        ownerId: l.node,
        ownerUrl: l.url,
        watch: this.hops,
        // The window the owner agreed with the agent, when it names one (this node waits no longer than its own either).
        resume: resume && ((token, contentType, agreed) => resume.resumeHooks(id, path, token, contentType, agreed)),
        bytes,
      });
    let r = await to(lease);
    if (r.ok && r.response.headers.get(ERROR_CODE_HEADER) === "tunnel_moving") {
      // The node we thought held it says it does not: the tunnel moved while this call was on its way (the lease read
      // here raced its change). Look it up afresh and follow it once, when the call can be sent again as it was.
      this.owners.delete(id);
      const again = bytes !== null || bodiless(req) ? await this.ownerOf(id).catch(() => null) : null;
      if (again && again !== "ignored" && again.url && again.node !== this.nodeId && (again.node !== lease.node || again.epoch !== lease.epoch)) {
        void r.response.body?.cancel().catch(() => {});
        lease = again;
        r = await to(again);
        if (r.ok && r.response.headers.get(ERROR_CODE_HEADER) === "tunnel_moving") this.owners.delete(id);
      }
    }
    if (r.ok) {
      m.forwarded.inc({ result: "ok" });
      return r.response;
    }
    if (r.refused) {
      m.forwarded.inc({ result: "hop_refused" });
      this.once(`hop refused by ${lease.node}: ${r.message}`, "a node refused this node's forwarded call: check that every node has the same shared secret and NTP-synced clocks", { tunnel: id, owner: lease.node, reason: r.message });
      return answered(new HttpError("unavailable", `the relay node holding tunnel "${id}" refused this node's forwarded call (${r.message}); the relay's operator must fix the cluster, a retry will not help`).toDialectResponse(path));
    }
    m.forwarded.inc({ result: r.aborted ? "client_aborted" : "owner_unreachable" });
    if (!r.aborted) this.owners.delete(id);
    return answered(ownerUnreachable(id, path, r.message));
  }

  async resumeAtOwner(id: string, token: string, offset: number, signal: AbortSignal, headMs: number): Promise<ChunkSource | null> {
    if (!this.link.up) return null;
    let lease: Lease | null | "ignored";
    try {
      lease = await this.ownerOf(id);
    } catch {
      return null;
    }
    if (!lease || lease === "ignored" || lease.node === this.nodeId || !lease.url) return null;
    const src = await resumeAt(id, token, offset, { key: this.keys.hop, nodeId: this.nodeId, ownerId: lease.node, ownerUrl: lease.url, watch: this.hops }, signal, headMs);
    // Perhaps a stale owner (or a frozen one, given up): look it up afresh next time.
    if (!src) this.owners.delete(id);
    return src;
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
    // Served while this node drains too: until its agent has moved, it still holds the tunnel (owner() answers
    // tunnel_moving once the agent was sent away).
    const res = await this.d.owner(req, id, path);
    this.d.metrics.forwardedIn.inc({ status: String(res.status) });
    try {
      // A call held here for a move and then sent on to the agent's new node already names that node.
      if (!res.headers.has(OWNER_NODE_HEADER)) res.headers.set(OWNER_NODE_HEADER, this.nodeId);
    } catch {}
    return res;
  }

  // ---- cluster views ----

  async listing(): Promise<ClusterListing> {
    const own = this.d.sessions.listing().map((t) => ({ ...t, node: this.nodeId }));
    if (!this.link.up) return { tunnels: own, nodes: [{ id: this.nodeId, url: this.url, reachable: true }], redis: "down" };
    let nodes: NodeInfo[] = [];
    try {
      nodes = await this.refreshMembers();
    } catch {}
    const others = await Promise.all(
      nodes
        .filter((n) => n.id !== this.nodeId)
        .map(async (n) => {
          try {
            const target = "/internal/tunnels";
            const { headers } = signedHeaders(this.keys.hop, this.nodeId, n.id, "GET", target, new Headers(), "none");
            const res = await fetch(n.url + target, { headers, signal: AbortSignal.timeout(2000), proxy: false });
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
    return { node: this.nodeId, redis: this.usable ? "up" : "down", reason: this.link.up ? (this.refusing ?? undefined) : this.link.reason, nodes: this.liveNodes };
  }
}

// The relay's side of the agents: their WebSocket connections, the handshake (src/protocol/handshake.ts), one live
// session per tunnel id (a new connection replaces the old), drained sessions on token expiry and shutdown, and the
// tunnels whose agent this relay sent away and which are moving (not offline) until it is back.
import type { ServerWebSocket, WebSocketHandler } from "bun";
import { logger } from "../core/log.ts";
import { RepeatLimit } from "../core/repeat-limit.ts";
import { ERROR_TABLE } from "../core/error-codes.ts";
import { acceptHello, agreedResumeWindow, HANDSHAKE_TIMEOUT_CLOSE, welcomeFrame } from "../protocol/handshake.ts";
import { BATCH_CAPABILITY, CAPABILITIES, CLOSE_CODES, HEADER_SIZE, MAX_PAYLOAD, RESUME_CAPABILITY, WINDOW_CAPABILITY } from "../protocol/messages.ts";
import { Session } from "../protocol/session.ts";
import type { RelayMetrics } from "./metrics.ts";
import { ResumeOffers } from "./resume-offers.ts";

/**
 * Past maxPayloadLength Bun (uWebSockets) closes the connection with 1009 to the peer, and tells the server's close
 * handler 1006 with this reason: the one way to tell that cut from a dropped connection.
 */
const TOO_BIG_REASON = "Received too big message";

const log = logger("relay");

/** What the relay keeps with each agent connection, from the upgrade on. */
export interface AgentData {
  tunnelId: string;
  agent: string;
  remote: string;
  session: Session | null;
  handshakeTimer: ReturnType<typeof setTimeout> | null;
  connectedAt: string;
  /** When the agent's JWT expires (ms since epoch); its session is drained then so it reconnects with a fresh token. */
  expiresAt: number | null;
  expiryTimer: ReturnType<typeof setTimeout> | null;
}

interface TunnelEntry {
  ws: ServerWebSocket<AgentData>;
  session: Session;
  agent: string;
  remote: string;
  connectedAt: string;
}

export interface TunnelInfo {
  id: string;
  agent: string;
  remote: string;
  connectedAt: string;
  activeStreams: number;
  rttMs: number | null;
}

export interface AgentTimings {
  handshakeMs: number;
  heartbeatMs: number;
  toleranceMs: number;
  graceMs: number;
  /** How long a client's answer waits for its agent to resume it ([relay] resume_window); 0: resuming is off. */
  resumeMs?: number;
}

/** What a cluster wants to know about local agents: it claims a tunnel when its agent arrives, releases it when it leaves. */
export interface SessionHooks {
  opened(id: string, session: Session): void;
  closed(id: string, session: Session): void;
}

/** After this relay's GO_AWAY an agent reconnects at once; a tunnel whose agent is not back within this long is offline. */
export const MOVE_WINDOW_MS = 10_000;
/** How long a call for a moving tunnel is held for the agent's new connection before it is answered 503 tunnel_moving. */
export const MOVE_HOLD_MS = 2_000;

export class AgentSessions {
  private readonly tunnels = new Map<string, TunnelEntry>();
  /**
   * An agent's protocol trouble (a text frame, a bad HELLO, a protocol error) is written once per tunnel and kind per
   * window, then with repeated=N: an agent may reconnect and send garbage as fast as it can connect (with [oidc] any
   * signed-in user runs one), a warn line each. protocol_errors_total and agent_connections_total count every one.
   */
  private readonly troubleLines = new RepeatLimit();
  /** Tunnels whose agent this relay sent away (GO_AWAY: a planned move), since when: moving, not offline, until it is back. */
  private readonly movedAt = new Map<string, number>();
  /** Calls held while their tunnel moves: woken when its agent is back here or another node took it. */
  private readonly waiting = new Map<string, Set<() => void>>();
  hooks: SessionHooks | null = null;
  /**
   * Sessions this relay closed because their tunnel's agent connected again (here, or at another node whose claim
   * fenced this one): a call still waiting on one is moving, not offline. (Kept here: a session closed locally may
   * record its close as the transport's, when the socket's close callback runs first.)
   */
  private readonly replacedSessions = new WeakSet<Session>();
  /** The window each tunnel's last session had measured: its next session names it until it measured its own. */
  private readonly lastWindows = new Map<string, number>();
  /** The resume window each session's agent announced in HELLO (ms). */
  private readonly agentWindows = new WeakMap<Session, number>();
  /** Answers agents offered to resume here (resume-offers.ts). */
  readonly offers: ResumeOffers;
  /**
   * A relay alone knows every answer its clients wait for, so it refuses any other offer at once (the agent then stops
   * that upstream request). A cluster node does not: the client may be at another node, which claims across the hop.
   */
  refuseUnknownOffers = true;
  /** What WELCOME lists: "resume" only while resuming is on. */
  private readonly capabilities: string[];

  /** Bun's WebSocket handlers for the agent path. */
  readonly websocket: WebSocketHandler<AgentData>;

  constructor(
    private readonly metrics: RelayMetrics,
    private readonly t: AgentTimings,
  ) {
    this.websocket = this.handlers();
    this.offers = new ResumeOffers(t.resumeMs ?? 0);
    this.capabilities = t.resumeMs ? CAPABILITIES : CAPABILITIES.filter((c) => c !== RESUME_CAPABILITY);
  }

  /** Resuming is on: WELCOME lists it, and client answers wait for it. */
  get resumeMs(): number {
    return this.t.resumeMs ?? 0;
  }

  /**
   * How long a client of an answer on `session` waits for its agent to resume it: [relay] resume_window, or the window
   * the agent announced in HELLO when shorter (an older agent announces none).
   */
  resumeWindowOf(session: Session): number {
    return agreedResumeWindow(this.resumeMs, this.agentWindows.get(session));
  }

  get size(): number {
    return this.tunnels.size;
  }

  /** The live session of a tunnel, or null when its agent is not connected. */
  session(id: string): Session | null {
    const e = this.tunnels.get(id);
    return e && !e.session.closed ? e.session : null;
  }

  /** Whether this relay closed `session` because its tunnel's agent connected again (see replacedSessions). */
  replaced(session: Session): boolean {
    return this.replacedSessions.has(session);
  }

  /** The tunnel's agent was sent away by this relay just now (shutdown, token expiry) and is not back yet. */
  moving(id: string): boolean {
    const at = this.movedAt.get(id);
    if (at === undefined) return false;
    if (performance.now() - at < MOVE_WINDOW_MS) return true;
    this.movedAt.delete(id);
    return false;
  }

  /** Resolves when the tunnel's move ended (its agent connected here, or moveEnded()), or after `ms`. */
  settled(id: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiting.get(id);
      if (!set) this.waiting.set(id, (set = new Set()));
      const s = set;
      const done = () => {
        clearTimeout(timer);
        s.delete(done);
        if (!s.size && this.waiting.get(id) === s) this.waiting.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      s.add(done);
    });
  }

  /** The tunnel's agent is back (here, or at another node: the cluster says so); held calls go on. */
  moveEnded(id: string): void {
    this.movedAt.delete(id);
    for (const w of [...(this.waiting.get(id) ?? [])]) w();
  }

  listing(): TunnelInfo[] {
    return [...this.tunnels.entries()].map(([id, t]) => ({
      id,
      agent: t.agent,
      remote: t.remote,
      connectedAt: t.connectedAt,
      activeStreams: t.session.activeStreams,
      rttMs: t.session.rttMs,
    }));
  }

  /**
   * Another node holds this tunnel now (its lease moved on): stop answering for it here. A session already going away
   * keeps its in-flight streams until they finish; new requests no longer find it.
   */
  fence(id: string, session: Session, reason: string): boolean {
    const e = this.tunnels.get(id);
    if (!e || e.session !== session) return false;
    this.tunnels.delete(id);
    this.metrics.tunnels.set(this.tunnels.size);
    this.replacedSessions.add(session);
    if (!session.goingAway) session.close("replaced", reason);
    return true;
  }

  /** Sends every agent away (they reconnect elsewhere or later); in-flight streams get the grace period. */
  async goAwayAll(reason: string): Promise<void> {
    await Promise.all([...this.tunnels.entries()].map(([id, t]) => this.sendAway(id, t.session, reason)));
  }

  /** GO_AWAY to one agent: a planned move, under way until it is back (here or, in a cluster, at another node). */
  sendAway(id: string, session: Session, reason: string): Promise<void> {
    this.movedAt.set(id, performance.now());
    return session.goAway(reason, this.t.graceMs);
  }

  private handlers(): WebSocketHandler<AgentData> {
    return {
      maxPayloadLength: HEADER_SIZE + MAX_PAYLOAD,
      // Credit windows bound what is queued per stream; this bounds one connection as a whole.
      backpressureLimit: 64 * 1024 * 1024,
      idleTimeout: Math.min(960, Math.max(30, Math.ceil((this.t.toleranceMs * 2) / 1000))),
      sendPings: false,
      open: (ws) => {
        ws.binaryType = "uint8array";
        ws.data.handshakeTimer = setTimeout(() => {
          this.metrics.agentConnections.inc({ result: "handshake_timeout" });
          ws.close(HANDSHAKE_TIMEOUT_CLOSE.code, HANDSHAKE_TIMEOUT_CLOSE.text);
        }, this.t.handshakeMs);
      },
      message: (ws, msg) => {
        if (typeof msg === "string") {
          this.metrics.protocolErrors.inc({ code: "not_binary" });
          // In place of its HELLO it is a bad handshake, counted as such; in a live session, a protocol error only.
          if (!ws.data.session) this.metrics.agentConnections.inc({ result: "protocol_error" });
          this.trouble(ws.data.tunnelId, "not_binary", "agent sent a text frame; closing its connection", {});
          if (ws.data.session) ws.data.session.close("protocol_error", "not_binary: protocol v2 uses binary frames only");
          else ws.close(CLOSE_CODES.protocol_error.code, "protocol_error: not_binary");
          return;
        }
        if (!ws.data.session) return this.onHello(ws, msg as Uint8Array);
        ws.data.session.receive(msg as Uint8Array);
      },
      drain: (ws) => ws.data.session?.drained(),
      close: (ws, code, reason) => {
        if (ws.data.handshakeTimer) clearTimeout(ws.data.handshakeTimer);
        if (ws.data.expiryTimer) clearTimeout(ws.data.expiryTimer);
        // Bun cuts a message past maxPayloadLength itself and never calls message(): counted and logged here, as the
        // protocol's own errors are, or an agent sending oversized frames would leave no trace.
        if (reason === TOO_BIG_REASON) {
          this.metrics.protocolErrors.inc({ code: "message_too_big" });
          if (!ws.data.session) this.metrics.agentConnections.inc({ result: "protocol_error" });
          this.trouble(ws.data.tunnelId, "message_too_big", "agent sent a WebSocket message over the frame limit; closing its connection", { limit: HEADER_SIZE + MAX_PAYLOAD });
        }
        ws.data.session?.transportClosed(`websocket closed (${code}${reason ? `: ${reason}` : ""})`);
      },
    };
  }

  /** One line for an agent's protocol trouble of this kind, unless one was written for its tunnel within the window. */
  private trouble(tunnel: string, kind: string, msg: string, fields: Record<string, unknown>): void {
    const line = this.troubleLines.note(`${tunnel}\u0000${kind}`);
    if (line.write) log.warn(msg, { tunnel, ...fields, repeated: line.repeated || undefined });
  }

  /** An agent's RESUME: filed under its own tunnel, or refused when no client here waits for it (a relay alone). */
  private onOffer(tunnel: string, token: string, session: Session, sent?: number): void {
    if (this.refuseUnknownOffers && !this.offers.expects(tunnel, token)) {
      this.metrics.resumeFailed.inc({ reason: "unknown" });
      session.sendFrame({ type: "RESUME_REFUSED", stream: 0, body: { token, reason: "no client waits for this answer here" } });
      return;
    }
    this.offers.offer(tunnel, token, session, sent);
  }

  private onHello(ws: ServerWebSocket<AgentData>, bytes: Uint8Array): void {
    const d = ws.data;
    const metrics = this.metrics;
    if (d.handshakeTimer) clearTimeout(d.handshakeTimer);
    d.handshakeTimer = null;
    const h = acceptHello(bytes);
    if (!h.ok) {
      const r = h.refusal;
      if (r.reason === "incompatible_version") {
        metrics.agentConnections.inc({ result: "incompatible_version" });
        this.trouble(d.tunnelId, "incompatible_version", "agent refused: incompatible protocol version", { reason: r.detail });
      } else {
        metrics.protocolErrors.inc({ code: r.detail });
        metrics.agentConnections.inc({ result: "protocol_error" });
        this.trouble(d.tunnelId, `hello ${r.detail}`, "agent sent a bad handshake; closing", { code: r.detail });
      }
      if (r.goAway) ws.send(r.goAway);
      ws.close(r.close.code, r.close.text);
      return;
    }
    const hello = h.hello;
    d.agent = hello.agent;
    const session = new Session({
      role: "relay",
      // An agent that reads BATCH says so; older agents get one frame per message.
      batch: hello.capabilities.includes(BATCH_CAPABILITY),
      // An agent that takes a stream's initial credit from its head; older agents keep 512 KiB per stream.
      windowHeads: hello.capabilities.includes(WINDOW_CAPABILITY),
      firstWindow: this.lastWindows.get(d.tunnelId),
      // The agent's max_streams (an older agent names none): no more streams are opened, calls past it wait (forward.ts).
      peerMaxStreams: hello.maxStreams,
      // An agent that keeps answers across reconnects offers them (RESUME) on its new session; older agents never do.
      onResume: this.resumeMs && hello.capabilities.includes(RESUME_CAPABILITY) ? (token, sent) => this.onOffer(d.tunnelId, token, session, sent) : undefined,
      heartbeatMs: this.t.heartbeatMs,
      toleranceMs: this.t.toleranceMs,
      sink: {
        send: (b) => {
          // 0 means Bun dropped the message: the byte stream would be corrupt, so the session cannot go on.
          if (ws.send(b) === 0 && ws.readyState === 1) session.close("protocol_error", "the agent connection is too far behind");
        },
        close: (code, reason) => ws.close(code, reason),
        backlog: () => ws.getBufferedAmount(),
      },
      onProtocolError: (e) => {
        metrics.protocolErrors.inc({ code: e.code });
        // Worded by its code: a flood of frames that carry nothing is not a malformed frame.
        this.trouble(d.tunnelId, e.code, `agent sent ${ERROR_TABLE.ProtocolError[e.code].meaning}; closing its connection`, { code: e.code, error: e.message });
      },
      onClose: (info) => {
        const measured = session.measuredWindow;
        if (measured !== null) this.lastWindows.set(d.tunnelId, measured);
        if (this.tunnels.get(d.tunnelId)?.session === session) {
          this.tunnels.delete(d.tunnelId);
          metrics.tunnels.set(this.tunnels.size);
          this.hooks?.closed(d.tunnelId, session);
        }
        log.info("agent disconnected", { tunnel: d.tunnelId, code: info.code, reason: info.reason });
      },
    });
    d.session = session;
    const old = this.tunnels.get(d.tunnelId);
    this.tunnels.set(d.tunnelId, { ws, session, agent: hello.agent, remote: d.remote, connectedAt: d.connectedAt });
    this.moveEnded(d.tunnelId);
    metrics.tunnels.set(this.tunnels.size);
    // A session going away (token expiry, shutdown) finishes its in-flight streams: the agent reconnected early on
    // purpose (make before break). Any other earlier session is a dead or duplicate connection and ends now.
    if (old && !old.session.goingAway) {
      this.replacedSessions.add(old.session);
      old.session.close("replaced", "another connection for this tunnel replaced this one");
    }
    // Resume windows are agreed (the shorter wins): a client is not kept waiting for an answer its agent gave up.
    const resumes = this.resumeMs > 0 && hello.capabilities.includes(RESUME_CAPABILITY);
    if (resumes && hello.resumeWindow !== undefined) this.agentWindows.set(session, hello.resumeWindow);
    session.sendFrame(welcomeFrame(d.tunnelId, this.capabilities, this.resumeMs > 0 ? this.resumeMs : undefined));
    this.hooks?.opened(d.tunnelId, session);
    if (d.expiresAt !== null) {
      // A JWT is good until it expires, not forever: go away then, and the agent reconnects with its refreshed token.
      const ms = Math.min(Math.max(0, d.expiresAt - Date.now()), 2 ** 31 - 1);
      d.expiryTimer = setTimeout(() => {
        log.info("agent token expired; asking it to reconnect", { tunnel: d.tunnelId });
        void this.sendAway(d.tunnelId, session, "the agent's token expired; reconnect with a fresh one");
      }, ms);
    }
    metrics.agentConnections.inc({ result: "ok" });
    log.info("agent connected", { tunnel: d.tunnelId, agent: hello.agent, remote: d.remote, replaced: !!old });
  }
}

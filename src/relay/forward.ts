// A cloud client's call through a tunnel: the client's credentials and the tunnel's rate, then the request streamed
// over the agent's session here (src/protocol/http-over-stream.ts forward()) or, in a cluster, to the node that holds the
// agent; every refusal in the dialect of the path being called.
import { KEY_PREFIX } from "../core/key-format.ts";
import { HttpError } from "../core/http-error.ts";
import { describeFetchError } from "../net/fetch-error.ts";
import { ProtocolError } from "../protocol/codec.ts";
import { ORIGIN_WIDE_HEADERS } from "../net/origin-wide-headers.ts";
import { agreedResumeWindow } from "../protocol/handshake.ts";
import { forward } from "../protocol/http-over-stream.ts";
import type { ResponseHead } from "../protocol/messages.ts";
import { StreamError, type Stream } from "../protocol/stream.ts";
import { MOVE_HOLD_MS, type AgentSessions } from "./agent-sessions.ts";
import { clientCredential, type AuthResult, type RelayAuth } from "./auth.ts";
import type { RelayConfig } from "./config.ts";
import { NODE_AUTH_HEADER } from "./cluster/node-auth.ts";
import { clientShareOf, SHARE_WAIT_MS, type ClientShare } from "./client-share.ts";
import { dropConnectionNamed } from "./connection-named.ts";
import { cutShortTail } from "./cut-short.ts";
import { TunnelLimits, TunnelLimitsTable, type RateRefusal } from "./limits.ts";
import type { RelayMetrics } from "./metrics.ts";
import { resumableBody, streamSource, type ChunkSource, type ResumeHooks } from "./resumable-body.ts";
import { isWholeKey, VerifiedClients } from "./verified-clients.ts";
import { agentReplayed } from "./resume-offers.ts";

/** Across the hop: the owner node names the resume token of an answer the entry node may resume (never sent to a client). */
export const RESUME_HEADER = "x-c2l-resume";
/** Across the hop, on a resumed answer from the owner node: the bytes the agent sends again (its RESUME's sent − offset). */
export const REPLAYED_HEADER = "x-c2l-replayed";
/** Across the hop beside RESUME_HEADER: the resume window (ms) the owner node agreed with the agent (never sent to a client). */
export const RESUME_WINDOW_HEADER = "x-c2l-resume-window";
/**
 * Across the hop, from the entry node: it resumes answers (reads RESUME_HEADER). A node of a release before resume
 * sends none and would pass the token on to its client: the owner then holds and resumes the answer itself.
 */
export const ENTRY_RESUMES_HEADER = "x-c2l-entry-resumes";
/** How long one look for a resumed answer's offer waits before the owner is looked up again. */
const CLAIM_STEP_MS = 1_000;

/** A header of the agent's answer head (names compared case-insensitively), null when absent. */
function headerOf(head: ResponseHead, name: string): string | null {
  for (const h of head.headers) if (h[0].toLowerCase() === name) return h[1];
  return null;
}

/** Headers a cloud client's credentials or cookies ride in: they stay at the relay. */
export const CLIENT_ONLY = ["authorization", "cookie", "proxy-authorization"];
/**
 * Across the hop: who the client is at the entry node (its client key's hash or hashed JWT subject), for its share of
 * the tunnel's streams at the owner (client-share.ts); a gateway key beside it (x-api-key) names it first. Set by the
 * entry node only, never sent to an agent.
 */
export const CLIENT_HEADER = "x-c2l-relay-client";
/** Never sent to an agent: the client's credentials, a node-to-node signature and client name (cluster). */
const NOT_FOR_AGENT = [...CLIENT_ONLY, NODE_AUTH_HEADER, CLIENT_HEADER, ENTRY_RESUMES_HEADER];
/**
 * Never taken from an agent's answer head: the resume token is this relay's to name, and cookies would be set on the
 * relay's origin, which every tunnel and the chat page share (an honest daemon never sends one: the broker drops an
 * upstream's); nor any other header that acts on that whole origin (src/net/origin-wide-headers.ts).
 */
const NOT_FROM_AGENT: ReadonlySet<string> = new Set([RESUME_HEADER, RESUME_WINDOW_HEADER, "set-cookie", ...ORIGIN_WIDE_HEADERS]);

/** What forwarding needs from a cluster (cluster/cluster.ts); a relay alone has none. */
export interface ClusterRouting {
  /**
   * The shared requests-per-minute window, the tunnel's and `client`'s share of it (client-rate.ts): null when the
   * request may go (counted in both), else the seconds until it could and whose limit it was.
   */
  admitRate(id: string, perMinute: number, local: () => RateRefusal | null, client: string, clientPerMinute: number): Promise<RateRefusal | null>;
  /** The request sent on to the node that holds the tunnel's agent, or an error answer saying why it cannot be. */
  forwardToOwner(req: Request, id: string, path: string): Promise<Response>;
  /**
   * The rest of an answer, from `offset`, taken over at the node that holds the tunnel's agent now; null when it has no
   * offer (yet), or its answer's head did not come within `headMs` (the rest of the resume window).
   */
  resumeAtOwner(id: string, token: string, offset: number, signal: AbortSignal, headMs: number): Promise<ChunkSource | null>;
}

export interface ForwardDeps {
  config: RelayConfig;
  auth: RelayAuth;
  sessions: AgentSessions;
  metrics: RelayMetrics;
  firstByteMs: number;
  stopping(): boolean;
  cluster?: ClusterRouting;
  /** A call's key was accepted: its connection is no longer cut by the relay's idle timeout (server.ts). */
  admit?(req: Request): void;
  /**
   * Tunnel `id`'s own allowed_origins (cors.ts refusal()), asked once the caller is its client: before that, a refusal
   * naming the tunnel would tell anyone which ids exist.
   */
  originRefusal?(req: Request, id: string): HttpError | null;
}

export type Forwarder = (req: Request, id: string, path: string) => Promise<Response>;

export interface Forwarders {
  /** A cloud client's call arriving at this node. */
  client: Forwarder;
  /** A call another node already admitted (client key, rate) and sent here because this node holds the agent. */
  owner: Forwarder;
  /** How a client's answer (here, or read across the hop) is resumed when its source is lost. */
  resumeHooks(id: string, path: string, token: string, contentType: string | null, windowMs?: number): ResumeHooks;
  /** Another node asks for the rest of an answer whose agent offered it here. */
  resumeHere(id: string, token: string, offset: number, signal: AbortSignal): Promise<Response>;
  /** A call refused before it has a tunnel (/me/: a bad JWT, an ambiguous tunnel): counted like every refusal here. */
  refuse(err: HttpError, path: string, headers?: Record<string, string>): Response;
}

/** nginx's "client closed request": the status a call whose client left before the answer began is counted under. */
const CLIENT_CLOSED = 499;

export function createForwarder(deps: ForwardDeps): Forwarders {
  const { config, auth, sessions, metrics } = deps;
  // Each tunnel's limits, those of tunnels gone quiet dropped (with [oidc] a tunnel per signed-in user: limits.ts).
  const limits = new TunnelLimitsTable(() => new TunnelLimits(config.limits.requests_per_minute, config.limits.max_streams, Date.now, { streams: config.limits.max_streams_per_client, perMinute: config.limits.requests_per_minute_per_client }));
  const limitsFor = (id: string) => limits.get(id);
  const max = config.limits.max_body_bytes;
  // The gateway keys each tunnel's agent has served: they name a client for the minute too (verified-clients.ts).
  const verified = new VerifiedClients();
  const clientPerMinute = clientShareOf(config.limits.requests_per_minute, config.limits.requests_per_minute_per_client);
  // The per-request series' children, found once (no label object or key per request).
  const toAgent = metrics.bytes.child({ direction: "to_agent" });
  const fromAgent = metrics.bytes.child({ direction: "from_agent" });
  const byStatus = new Map<number, ReturnType<typeof metrics.requests.child>>();
  const countStatus = (status: number) => {
    let c = byStatus.get(status);
    if (!c) byStatus.set(status, (c = metrics.requests.child({ status: String(status) })));
    c.inc();
  };
  // A refusal decided on this node counts like an answer: a flood of bad keys, an offline tunnel or a rate limit shows in
  // requests_total{status} (a call sent on to the owner node is counted there).
  const refuse = (err: HttpError, path: string, headers?: Record<string, string>): Response => {
    countStatus(err.status);
    return err.toDialectResponse(path, headers);
  };

  function failedForward(e: unknown, id: string): HttpError {
    if (e instanceof ProtocolError) return new HttpError("bad_request", `the request cannot cross the tunnel: ${e.message}`);
    switch (e instanceof StreamError ? e.code : null) {
      case "timeout":
        return new HttpError("upstream_timeout", `the agent sent no response within ${config.first_byte_timeout}`);
      case "refused":
        return new HttpError("unavailable", `the agent refused the request: ${(e as Error).message}`);
      case "session_closed":
        return new HttpError("tunnel_offline", `tunnel "${id}" disconnected before answering`);
      default:
        return new HttpError("upstream_error", `the tunnel failed the request: ${(e as Error).message}`);
    }
  }

  /**
   * An answer that broke off after its 200 (the agent's session ended: tunnel stopped, heartbeat lost, daemon gone; or
   * the agent reset the stream): the client's last line or event says why in its dialect.
   */
  function brokenAnswer(e: StreamError, head: ResponseHead, lastByte: number, id: string, path: string): Uint8Array | null {
    const gone = e.code === "session_closed";
    const err = gone
      ? new HttpError("tunnel_offline", `tunnel "${id}" disconnected in the middle of the answer (${e.message}); the answer is incomplete`)
      : new HttpError("upstream_error", `the tunnel's agent ended the answer early (${e.code}: ${e.message}); the answer is incomplete`);
    // The agent going away is an expected ending; a stream the agent reset is worth a look.
    return cutShortTail(err, headerOf(head, "content-type"), lastByte, gone, { tunnel: id, path: path.split("?")[0], code: e.code });
  }

  /**
   * Why the hop to the node holding the agent broke (cluster): the hop watch's own sentence, else what the fetch said,
   * in a few words — not Bun's text ("ECONNRESET: The socket connection was closed unexpectedly. For more information,
   * pass `verbose: true` in the second argument to fetch()"), which the client's SDK would show as the reason.
   */
  function hopLost(e: unknown): string {
    const m = describeFetchError(e);
    return m.startsWith("the relay node") ? m : `the relay node holding its agent went away: ${m}`;
  }

  /** A stream a resumed answer goes on over (claimed from the agent's offer here): its bytes count like any stream's. */
  const countResumed = (s: Stream) => {
    s.whenFinished(() => {
      toAgent.inc(s.bytesOut);
      fromAgent.inc(s.bytesIn);
    });
    return s;
  };

  /** The rest of an answer from `offset`: an offer of the agent here, or at the node holding it now; null after the window. */
  async function resumeFrom(id: string, token: string, offset: number, signal: AbortSignal, windowMs: number): Promise<ChunkSource | null> {
    const deadline = performance.now() + windowMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 || signal.aborted) return null;
      if (!deps.cluster || sessions.session(id)) {
        const s = await sessions.offers.claim(id, token, offset, Math.min(left, CLAIM_STEP_MS), signal);
        if (s) return streamSource(countResumed(s), offset);
      } else {
        const src = await deps.cluster.resumeAtOwner(id, token, offset, signal, left);
        if (src) return src;
        await Bun.sleep(Math.min(200, Math.max(0, left)));
      }
    }
  }

  /** `agreed`: the window agreed with the agent, when known; the client waits no longer than it, nor than this node's own. */
  function resumeHooks(id: string, path: string, token: string, contentType: string | null, agreed?: number): ResumeHooks {
    const windowMs = agreedResumeWindow(sessions.resumeMs, agreed);
    const fields = { tunnel: id, path: path.split("?")[0] };
    const over = sessions.offers.expect(id, token);
    return {
      ended: over,
      resume: (offset, signal, lateMs) => resumeFrom(id, token, offset, signal, windowMs - lateMs),
      // A relay alone that is shutting down has nowhere to resume to: its answers end as they always did.
      canResume: () => !(deps.stopping() && !deps.cluster),
      onBreak: (e, last, failed) => {
        if (!failed && e instanceof StreamError) return brokenAnswer(e, { status: 200, headers: contentType ? [["content-type", contentType]] : [] }, last, id, path);
        const window = `${Math.round(windowMs / 100) / 10}s`;
        const why = e instanceof StreamError ? e.message : hopLost(e);
        const err = new HttpError("tunnel_offline", `tunnel "${id}" disconnected in the middle of the answer (${why}) and its agent did not resume it within ${window}; the answer is incomplete`);
        // Like any agent going away, an expected ending (info).
        return cutShortTail(err, contentType, last, true, { ...fields, code: e instanceof StreamError ? e.code : "node_lost", resume: "failed" });
      },
      resumed: (replayed) => {
        metrics.resumed.inc();
        metrics.replayed.inc(replayed);
      },
      failed: () => metrics.resumeFailed.inc({ reason: "window" }),
    };
  }

  async function resumeHere(id: string, token: string, offset: number, signal: AbortSignal): Promise<Response> {
    const s = sessions.session(id) ? await sessions.offers.claim(id, token, offset, CLAIM_STEP_MS * 2, signal) : null;
    if (!s) return new HttpError("not_found", `no answer of tunnel "${id}" is offered for resume here`).toResponse();
    // A break here fails the body: the entry node, which holds the client, resumes again.
    // (Failed with undefined, not the StreamError: Bun would print that as a stack dump.)
    const replayed = agentReplayed(s);
    const headers: Record<string, string> = { [RESUME_HEADER]: token };
    // The entry node counts the resume (it holds the client); what the agent sends again only the agent's offer says.
    if (replayed !== undefined) headers[REPLAYED_HEADER] = String(replayed);
    return new Response(countResumed(s).directReadable(() => null), { status: 200, headers });
  }

  function moving(id: string, path: string): Response {
    return refuse(new HttpError("tunnel_moving", `tunnel "${id}" is moving to another relay connection; retry in a moment`), path, { "retry-after": "1" });
  }

  /**
   * The request over the agent's session on this node; `viaNode`: another node sent it (owner moved → retry).
   * `client`: who sent it, for its share of the tunnel's streams (client-share.ts); `gatewayKey`: the gateway key it
   * named at this node (its answer says whether the agent accepts it: verified-clients.ts).
   */
  async function overSession(req: Request, id: string, path: string, viaNode: boolean, client: string, gatewayKey: string | null = null): Promise<Response> {
    let session = sessions.session(id);
    if (!session || session.sentGoAway) {
      // A planned move: this relay sent the agent away and it reconnects at once, here or (cluster) to another node.
      // The call waits for that briefly and follows the agent; still moving after that, it is a 503 to retry, not an
      // offline tunnel. So is a call another node sent here for an agent that has left.
      const wasMoving = sessions.moving(id);
      if (wasMoving) await sessions.settled(id, MOVE_HOLD_MS);
      const back = sessions.session(id);
      if (back && !back.sentGoAway) return overSession(req, id, path, viaNode, client, gatewayKey);
      if (wasMoving || session) return deps.cluster && !req.signal.aborted ? deps.cluster.forwardToOwner(req, id, path) : moving(id, path);
      if (viaNode) return moving(id, path);
      return refuse(new HttpError("tunnel_offline", `tunnel "${id}" is not connected`), path);
    }
    const lim = limitsFor(id);
    // A client whose calls the tunnel resets before their answer faster than the agent's budget takes (rapid reset)
    // waits here, rather than get the tunnel cut for every client.
    const early = lim.early.refusal(client);
    if (early) return earlyAborts(id, path, early);
    const share = lim.streams;
    // The agent's own max_streams, when lower, is the tunnel's: heads past it would be refused (and counted against
    // the session's flood budget, which cut busy tunnels off), so calls wait for a stream here instead.
    share.fit(session.peerMaxStreams);
    const verdict = share.admit(client);
    if (verdict === "over") return share.perClient < share.maxStreams ? overShare(id, path, share.perClient, share.maxStreams) : tunnelFull(id, path, share);
    if (verdict === "full") {
      // Every stream taken (by other clients too): wait briefly for one; the client holding the fewest gets it first.
      if (!(await share.wait(client, SHARE_WAIT_MS, req.signal))) return tunnelFull(id, path, share);
      const now = sessions.session(id);
      if (!now || now.sentGoAway) {
        share.release(client);
        return overSession(req, id, path, viaNode, client, gatewayKey);
      }
      session = now;
    }

    let tooLarge = false;
    const t0 = performance.now();
    let stream: Stream | null = null;
    let resumeToken: string | null = null;
    /** A held answer counts as in flight until its client's body ends, across the streams it resumes on. */
    let held = false;
    metrics.activeStreams.inc();
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      share.release(client);
      metrics.activeStreams.dec();
    };
    try {
      const res = await forward(session, req, path, {
        signal: req.signal,
        dropHeaders: NOT_FOR_AGENT,
        // Only this relay names a resume token to the entry node: never one from the agent's own headers.
        dropAnswerHeaders: NOT_FROM_AGENT,
        maxBodyBytes: max,
        onBodyTooLarge: () => (tooLarge = true),
        firstByteTimeoutMs: deps.firstByteMs,
        onStream: (s) => (stream = s),
        onBreak: (e, head, last) => brokenAnswer(e, head, last, id, path),
        resumable: !sessions.resumeMs
          ? undefined
          : viaNode && req.headers.has(ENTRY_RESUMES_HEADER)
            ? // The entry node holds the client and resumes: a lost session fails the hop's body (no error line) and the token rides along.
              (s, head) => ((resumeToken = head.resume!), s.directReadable((e, last) => (e.code === "session_closed" && !e.final ? null : brokenAnswer(e, head, last, id, path))))
            : (s, head) => {
                held = true;
                const hooks = resumeHooks(id, path, head.resume!, headerOf(head, "content-type"), sessions.resumeWindowOf(session));
                return resumableBody(streamSource(s), { ...hooks, ended: () => (hooks.ended?.(), settle()) });
              },
      });
      if (resumeToken) {
        res.headers.set(RESUME_HEADER, resumeToken);
        // The entry node, which holds the client, waits no longer than the agent holds the answer.
        res.headers.set(RESUME_WINDOW_HEADER, String(sessions.resumeWindowOf(session)));
      }
      metrics.ttfb.observe((performance.now() - t0) / 1000);
      countStatus(res.status);
      if (gatewayKey !== null) verified.note(id, gatewayKey, res.status);
      const s = stream as Stream | null;
      if (s) {
        s.whenFinished(() => {
          if (!held) settle();
          toAgent.inc(s.bytesOut);
          fromAgent.inc(s.bytesIn);
        });
      } else settle();
      return res;
    } catch (e) {
      settle();
      // The client left before the answer's head (a page's Stop while the model loads or the call queues): nobody gets
      // this answer, and the tunnel did not fail it. Counted as 499 (client closed the request), as the broker does,
      // not as a 502 that would page an operator for every Stop.
      if (req.signal.aborted && !tooLarge) {
        // Its stream was reset before the answer's head: the agent counts that against its rapid-reset budget.
        if (stream) lim.early.note(client);
        countStatus(CLIENT_CLOSED);
        return new Response(null, { status: CLIENT_CLOSED });
      }
      // The session was replaced before it answered: the agent is connected again (at another node, whose claim fenced
      // this one, or here), typically after a link that died on its side only. Not offline: moving (503, retry); a
      // node that sent the call here follows the tunnel to its new node.
      if (!tooLarge && sessions.replaced(session) && e instanceof StreamError && e.code === "session_closed") return moving(id, path);
      const err = tooLarge ? new HttpError("payload_too_large", `the request body is over this relay's limit of ${max} bytes`) : failedForward(e, id);
      countStatus(err.status);
      return err.toDialectResponse(path);
    }
  }

  // Not async: a call admitted at once (a client key, no cluster) is the promise of overSession() itself, with no
  // promise of its own around it; a JWT, a refusal or a cluster's shared rate takes the async path.
  const client: Forwarder = (req, id, path) => {
    const who = auth.client(req, id);
    if (who instanceof Promise) return who.then((w) => admitted(req, id, path, w));
    const res = admitted(req, id, path, who);
    return res instanceof Response ? Promise.resolve(res) : res;
  };

  function admitted(req: Request, id: string, path: string, who: AuthResult): Response | Promise<Response> {
    if (!who.ok) return refuse(new HttpError("unauthorized", who.reason), path, { "www-authenticate": 'Bearer realm="relay"' });
    const origin = deps.originRefusal?.(req, id);
    if (origin) return refuse(origin, path);
    // Hop-by-hop by the client's say-so: dropped here, since Connection itself goes no further than this relay.
    dropConnectionNamed(req.headers);
    // A key read from x-api-key (no Authorization sent) is the relay's, like a bearer token: it goes no further than
    // here, to this node's agent or to the node that holds it. Beside a bearer token, x-api-key goes on only when it
    // holds a gateway key (c2l_…): the broker reads no other, and drops the header before any upstream anyway.
    let apiKey = req.headers.get("x-api-key");
    if (apiKey !== null && (clientCredential(req)?.header === "x-api-key" || !apiKey.includes(KEY_PREFIX))) {
      req.headers.delete("x-api-key");
      apiKey = null;
    }
    // A relay alone that is stopping has nowhere to send the call: say why rather than "refused" or "not connected".
    // A cluster node that is stopping still forwards (the balancer may send it calls until its health check notices).
    if (deps.stopping() && !deps.cluster) return refuse(new HttpError("unavailable", "the relay is shutting down; retry in a moment"), path, { "retry-after": "1" });
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (max && declared > max) return refuse(new HttpError("payload_too_large", `the request body (${declared} bytes) is over this relay's limit of ${max} bytes`), path);
    // Who the client is, for its share of the tunnel's streams: the gateway key it names for the broker (a key the
    // agent refuses at once when it is not one, so a made-up key holds no stream), else the relay's own credential.
    // For its share of the minute, the gateway key only once the agent has served a call with it: a call is counted
    // before the agent sees its key, so a made-up key per call must not open a new share (verified-clients.ts).
    // Only a header that is one whole gateway key names it (verified-clients.ts): any other text with `c2l_` in it is
    // not a key the broker checks, and a fresh spelling per call would open a fresh share.
    const credential = who.client ?? "";
    const gatewayKey = apiKey !== null && isWholeKey(apiKey) ? apiKey : null;
    const client = gatewayKey ?? credential;
    const minuteClient = gatewayKey !== null && verified.has(id, gatewayKey) ? gatewayKey : credential;
    // Admitted (its connection's idle timer lifted: server.ts) only past the refusals decided here, so a 413 or 429's
    // unread body is drained within bounds and its connection closed, as a bad key's. (A cluster's shared rate is
    // admitted before its Redis round trip: the idle timer must not fire while it waits.)
    if (deps.cluster) {
      deps.admit?.(req);
      return clusterAdmitted(req, id, path, deps.cluster, client, credential, minuteClient, gatewayKey);
    }
    const refused = limitsFor(id).admitRate(minuteClient);
    if (refused !== null) return overRate(id, path, refused);
    deps.admit?.(req);
    return overSession(req, id, path, false, client, gatewayKey);
  }

  /** Every stream of the tunnel taken: the relay's limit (429, the clients' calls), or the agent's (503, its capacity). */
  function tunnelFull(id: string, path: string, share: ClientShare): Response {
    if (!share.agentBound) return refuse(new HttpError("rate_limited", `tunnel "${id}" already has ${share.maxStreams} requests in flight`), path, { "retry-after": "1" });
    const why = `tunnel "${id}" is busy: its agent takes ${share.maxStreams} request${share.maxStreams === 1 ? "" : "s"} at once ([tunnel] max_streams) and all are in flight; retry in a moment`;
    return refuse(new HttpError("unavailable", why), path, { "retry-after": "1" });
  }

  function earlyAborts(id: string, path: string, seconds: number): Response {
    const why = `tunnel "${id}" is shared: this client aborts its calls before their answer faster than the tunnel's agent allows (rapid reset); retry in ${seconds} s`;
    return refuse(new HttpError("rate_limited", why), path, { "retry-after": String(seconds) });
  }

  function overShare(id: string, path: string, perClient: number, maxStreams: number): Response {
    return refuse(new HttpError("rate_limited", `tunnel "${id}" is shared: this client already has ${perClient} of its ${maxStreams} requests in flight (max_streams_per_client)`), path, { "retry-after": "1" });
  }

  /** Over the tunnel's minute, or over the client's share of it. */
  function overRate(id: string, path: string, r: RateRefusal): Response {
    const perMinute = config.limits.requests_per_minute;
    const why = r.client
      ? `tunnel "${id}" is shared: this client is over its ${clientPerMinute} of the tunnel's ${perMinute} requests per minute (requests_per_minute_per_client)`
      : `tunnel "${id}" is over ${perMinute} requests per minute`;
    return refuse(new HttpError("rate_limited", why), path, { "retry-after": String(r.seconds) });
  }

  /**
   * `credential`: the client's name by its relay credential, sent to the owner node, which keeps the streams' share;
   * `minuteClient`: its name for its share of the minute (a verified gateway key, else the credential).
   */
  async function clusterAdmitted(req: Request, id: string, path: string, cluster: ClusterRouting, client: string, credential: string, minuteClient: string, gatewayKey: string | null): Promise<Response> {
    // Set here, whatever the client sent under that name: the owner trusts only what this node signed. (Also for a
    // call served here: one whose agent moves on goes to the owner from overSession; the agent never sees it.)
    req.headers.set(CLIENT_HEADER, credential);
    const refused = await cluster.admitRate(id, config.limits.requests_per_minute, () => limitsFor(id).admitRate(minuteClient), minuteClient, clientPerMinute);
    if (refused !== null) return overRate(id, path, refused);
    // A tunnel whose agent this node sent away is served (after a short wait) where the agent went (overSession).
    if (sessions.session(id) || sessions.moving(id)) return overSession(req, id, path, false, client, gatewayKey);
    const res = await cluster.forwardToOwner(req, id, path);
    // The owner's answer: the agent's (a 2xx verifies the key), or the owner's own refusal (never a 2xx).
    if (gatewayKey !== null) verified.note(id, gatewayKey, res.status);
    return res;
  }

  /** At the owner: the client as the entry node named it (a gateway key crosses the hop as x-api-key). */
  const owner: Forwarder = (req, id, path) => {
    const apiKey = req.headers.get("x-api-key");
    return overSession(req, id, path, true, apiKey !== null && isWholeKey(apiKey) ? apiKey : (req.headers.get(CLIENT_HEADER) ?? ""));
  };

  return { client, owner, resumeHooks, resumeHere, refuse };
}

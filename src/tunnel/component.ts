// The daemon's tunnel component: runs the supervisor, hands every stream from the relay to the broker, publishes TunnelControl.
import { resolveBy } from "../config/resolve.ts";
import type { Component, ComponentFactory, DaemonContext } from "../core/component.ts";
import type { TunnelControl, TunnelStatus } from "../core/contracts.ts";
import type { Config, Section, TunnelConfig } from "../config/schema.ts";
import { CONFIG_SCHEMA } from "../config/config-check.generated.ts";

import { splitListen } from "../config/listen.ts";
import { secretSetAdvice } from "../config/inline-secrets.ts";
import { HttpError } from "../core/http-error.ts";
import { logger } from "../core/log.ts";
import { RepeatLimit } from "../core/repeat-limit.ts";
import { VERSION } from "../core/build-info.ts";
import { realClock, type Clock } from "../core/clock.ts";
import { connect, ConnectError, type Connection } from "./connector.ts";
import { connectBridge } from "./bridge-v1.ts";
import { checkPath, sanitize, sanitizedHeaders } from "./filter.ts";
import { routeOf } from "../core/model-routes.ts";
import { urlPath, urlSearch } from "../core/url-path.ts";
import { tunnelMetrics } from "./metrics.ts";
import { serveStream } from "../protocol/http-over-stream.ts";
import { AnswerResumes, DEFAULT_RESUME_LIMITS } from "../protocol/resumable-answer.ts";
import type { Stream } from "../protocol/stream.ts";
import { AUTH_CODES, MOVE_RETRY_MS, MOVE_WINDOW_MS, Supervisor, type SupervisorSnapshot } from "./supervisor.ts";
import { DISPLACED_CODE, DISPLACED_FIX } from "./displacement.ts";
import { agentToken } from "./token.ts";
import { agentPathHint, cloudUrl } from "../net/cloud-url.ts";

/**
 * The agent's log line for a held answer given up, by reason (resumable-answer.ts): a refusal comes at once from a relay
 * that knows no client waits for it (restarted, the client gone), not from the window running out.
 */
const RESUME_FAILED_LINES: Readonly<Record<string, string>> = {
  window: "an answer was not resumed in time; its upstream request is cancelled",
  refused: "the relay will not resume an answer (no client waits for it there); its upstream request is cancelled",
};

// The plain copies of the schemas (no TypeBox at start-up): what resolveBy walks for the durations.
const TunnelSchema = CONFIG_SCHEMA.properties.tunnel;
const ProxySchema = CONFIG_SCHEMA.properties.proxy;

const log = logger("tunnel");

/**
 * [tunnel] settings a reload applies to the open connection: the paths each request is checked against when it comes,
 * the shutdown grace read when it starts, the held answers' window. The rest (relay, protocol, credentials, CA,
 * heartbeat, stream limit, backoff) is what the connection or its supervisor was made with: changing it reconnects.
 */
const IN_PLACE: ReadonlySet<string> = new Set(["allowed_paths", "allow_model_management", "go_away_grace", "resume_window"]);

/** The [tunnel] settings that differ between two configs (compared by value). */
function changedFields(a: TunnelConfig, b: TunnelConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k as keyof TunnelConfig]) !== JSON.stringify(b[k as keyof TunnelConfig]));
}

/** Resuming is negotiated when connecting: turning it on or off (a window of 0) takes a new connection. */
function resumeKept(a: TunnelConfig, b: TunnelConfig): boolean {
  return !resolveBy(TunnelSchema, a).resume_window === !resolveBy(TunnelSchema, b).resume_window;
}

/** Attempts that failed for want of a credential: a new account token retries them at once. */
const NO_TOKEN_CODES = new Set(["no_token", "signed_out", "login_required"]);

/** While the relay refuses the stored token, the secret store is read this often for a new one (a `secret set` in another process). */
export const SECRET_RECHECK_MS = 2_000;

/** The relay URL as shown in status and logs: no credentials, no query (bridge-v1 puts a token there). */
export function displayRelay(url: string): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return null;
  }
}

export class TunnelService implements TunnelControl {
  private sup: Supervisor | null = null;
  private cfg: TunnelConfig;
  private brokerHost: string;
  private last: SupervisorSnapshot | null = null;
  /** Whether this planned move's first failed retry was logged (the rest of its quick retries are not). */
  private moveRetryLogged = false;
  private lastEmitted = "";
  /** Where the token of the latest attempt came from: only an account's token dies with a sign-out. */
  private tokenSource: "secret" | "auth" | null = null;
  /** The token of the latest attempt: a stored secret that differs from it is a fix worth trying. */
  private lastToken: string | null = null;
  /** The [tunnel] token_secret lastToken was read for. */
  private lastTokenName = "";
  private secretTimer: unknown = null;

  constructor(
    private readonly ctx: DaemonContext,
    private readonly clock: Clock = realClock,
  ) {
    this.cfg = ctx.config.current().tunnel;
    this.brokerHost = brokerHostOf(ctx.config.current());
  }

  status(): TunnelStatus {
    const s = this.last;
    const state = !this.cfg.enabled && (!s || s.state === "stopped") ? "disabled" : (s?.state ?? "stopped");
    return {
      state,
      protocol: this.cfg.protocol,
      relay: displayRelay(this.cfg.relay_url),
      since: s ? new Date(s.since).toISOString() : null,
      nextRetry: s?.nextRetryAt ? new Date(s.nextRetryAt).toISOString() : null,
      attempt: s?.attempt ?? 0,
      lastError: s?.lastError ?? null,
      lastErrorCode: s?.lastErrorCode ?? null,
      tunnelId: s?.tunnelId ?? null,
      // bridge-v1 servers have their own URL scheme for clients; only the v2 relay's /t/ID/ is known here.
      cloudUrl: this.cfg.protocol === "v2" ? cloudUrl(this.cfg.relay_url, s?.tunnelId) : null,
      fix: s && state !== "connected" ? this.fixFor(s.lastErrorCode) : null,
      activeStreams: s?.connection?.activeStreams() ?? 0,
    };
  }

  /** The one-line fix for the latest error, fitting this setup (a stored token or a sign-in); null when none is known. */
  private fixFor(code: string | null): string | null {
    const c = this.cfg;
    const secret = c.token_secret ? `store the agent token the relay expects: ${secretSetAdvice(c.token_secret, "[tunnel] token_secret", "tunnel-token")}` : null;
    const login = this.ctx.config.current().auth.issuer ? "sign in again: `cloudtolocalllm-tunnel login`" : null;
    switch (code) {
      case "unauthorized":
      case "forbidden":
        // The credential that was refused is the one to replace: the account's token needs a sign-in, a stored one a new value.
        return (this.tokenSource === "auth" ? login : secret) ?? login ?? "set [tunnel] token_secret and store the agent token with `cloudtolocalllm-tunnel secret set NAME`";
      case "no_token":
        return [secret, login].filter(Boolean).join(", or ") || "set [tunnel] token_secret or configure [auth]";
      case "not_found":
        return agentPathHint(c.relay_url);
      case DISPLACED_CODE:
        return DISPLACED_FIX;
      default:
        return null;
    }
  }

  async start(): Promise<void> {
    this.configuredSupervisor().start();
  }

  async stop(): Promise<void> {
    void this.sup?.stop("stopped by the user");
    this.resumes?.abandonAll("the tunnel was stopped");
  }

  /** The connected session's last heartbeat round trip, null while not connected. */
  rttMs(): number | null {
    return this.last?.state === "connected" ? (this.last.connection?.session?.rttMs ?? null) : null;
  }

  async restart(): Promise<void> {
    this.configuredSupervisor().restart();
  }

  private configuredSupervisor(): Supervisor {
    if (!this.cfg.relay_url) throw new HttpError("tunnel_disabled", "no relay is configured ([tunnel] relay_url is empty)");
    return this.ensureSupervisor();
  }

  /**
   * Config changed: the connection stays when [tunnel] did not change, or when only settings each request or the held
   * answers read changed (IN_PLACE; cloudflared's orchestrator swaps its ingress rules the same way): cutting every
   * stream the cloud is being answered on to let the next one through a new path would lose the ones in flight.
   * Anything the connection was made with reconnects.
   */
  async apply(next: Config, changed: ReadonlySet<Section>): Promise<void> {
    this.brokerHost = brokerHostOf(next);
    if (!changed.has("tunnel")) return;
    const fields = changedFields(this.cfg, next.tunnel);
    if (this.sup && fields.every((f) => IN_PLACE.has(f)) && resumeKept(this.cfg, next.tunnel)) {
      this.cfg = next.tunnel;
      this.resumes?.setWindow(resolveBy(TunnelSchema, this.cfg).resume_window);
      log.info("tunnel settings applied to the open connection", { fields: fields.join(",") });
      return;
    }
    void this.shutdown("configuration changed");
    this.cfg = next.tunnel;
    this.sup = null;
    if (this.cfg.enabled) this.ensureSupervisor().start();
    else this.publish();
  }

  /**
   * The account's access token changed. A new one (sign-in, refresh): a tunnel waiting for credentials tries again now.
   * None (sign-out, login required): a tunnel that runs on the account's token disconnects and reconnects only with a
   * stored agent token, else it waits in auth_failed for the next sign-in.
   */
  tokenChanged(token: string | null): void {
    const st = this.last?.state;
    if (!this.cfg.enabled || !st) return;
    if (token) {
      // Only a tunnel that waits for credentials starts over; a connected one keeps its connection (the relay sends
      // GO_AWAY when the token it was given expires, and the reconnect reads the current token), one between attempts
      // reads the new token at its next attempt. Restarting on every refresh was a refresh storm.
      if (st === "auth_failed" || (st === "reconnecting" && NO_TOKEN_CODES.has(this.last?.lastErrorCode ?? ""))) this.sup?.restart();
    } else if (this.tokenSource === "auth" && st !== "stopped" && st !== "failed" && st !== "auth_failed") {
      this.sup?.restart("signed out");
    }
  }

  /** Closes the connection: at once, or after its in-flight requests finished within `graceMs` (daemon shutdown). */
  async shutdown(reason: string, graceMs = 0): Promise<void> {
    this.stopSecretWatch();
    this.resumes?.abandonAll(`the tunnel is closing: ${reason}`);
    const streams = this.last?.connection?.activeStreams() ?? 0;
    if (graceMs > 0 && streams > 0) log.info("letting in-flight requests finish before disconnecting", { streams, grace_ms: graceMs });
    await this.sup?.stop(reason, graceMs);
  }

  /** How long a shutdown may wait for in-flight requests ([tunnel] go_away_grace). */
  get graceMs(): number {
    return resolveBy(TunnelSchema, this.cfg).go_away_grace;
  }

  private ensureSupervisor(): Supervisor {
    if (this.sup) return this.sup;
    const c = this.cfg;
    const b = resolveBy(TunnelSchema, c).backoff;
    this.sup = new Supervisor({
      clock: this.clock,
      backoff: { initialMs: b.initial, maxMs: b.max, multiplier: b.multiplier, jitter: b.jitter },
      stableMs: b.reset_after,
      connect: (signal) => this.connectOnce(c, signal),
      onChange: (s) => this.onChange(s),
    });
    return this.sup;
  }

  private async connectOnce(c: TunnelConfig, signal?: AbortSignal): Promise<Connection> {
    let tok: Awaited<ReturnType<typeof agentToken>>;
    try {
      tok = await agentToken(this.ctx.services, c.token_secret);
    } catch (e) {
      // A store that cannot answer now (a keyring locked with the screen) says nothing about the stored token: a
      // reconnect goes on with the one it read before, as the relay will say if that is no longer good.
      if (this.tokenSource !== "secret" || !this.lastToken || this.lastTokenName !== c.token_secret) throw e;
      log.warn("the agent token could not be read again; reconnecting with the one read before", { secret: c.token_secret, error: (e as Error).message });
      tok = { token: this.lastToken, source: "secret" };
    }
    this.tokenSource = tok?.source ?? null;
    this.lastToken = tok?.token ?? null;
    this.lastTokenName = c.token_secret;
    if (!tok) {
      const e = this.noTokenError(c);
      tunnelMetrics.connects.inc({ result: "no_token" });
      throw e;
    }
    try {
      const opts = {
        url: c.relay_url,
        token: tok.token,
        caFile: c.ca_file || undefined,
        agent: `cloudtolocalllm-tunnel/${VERSION}`,
        heartbeatMs: resolveBy(TunnelSchema, c).heartbeat.interval,
        toleranceMs: resolveBy(TunnelSchema, c).heartbeat.tolerance,
        maxStreams: c.max_streams,
        stallMs: resolveBy(TunnelSchema, c).stall_timeout,
        onStall: (reason: string) => this.stalled(reason),
        clock: this.clock,
        onStream: (s: Stream, resume?: AnswerResumes) => this.onStream(s, resume),
        resume: this.resumesFor(c),
        signal,
      };
      const conn = c.protocol === "bridge-v1" ? await connectBridge({ ...opts, handle: (req) => this.handle(sanitize(req, this.brokerHost), this.cfg) }) : await connect(opts);
      tunnelMetrics.connects.inc({ result: "ok" });
      return conn;
    } catch (e) {
      tunnelMetrics.connects.inc({ result: e instanceof ConnectError ? e.code : "error" });
      throw e;
    }
  }

  /** Why there is no credential, in the words of the account's state: signed out on purpose, sign-in required, or none configured. */
  private noTokenError(c: TunnelConfig): ConnectError {
    const state = (this.ctx.services.auth as { status?(): { state: string } } | undefined)?.status?.().state;
    const store = c.token_secret ? `store an agent token with ${secretSetAdvice(c.token_secret, "[tunnel] token_secret", "tunnel-token")}` : "";
    if (state === "login_required") return new ConnectError("login_required", "login required: sign in again (`cloudtolocalllm-tunnel login`)", true);
    if (state === "signed_out") return new ConnectError("signed_out", `signed out: sign in with \`cloudtolocalllm-tunnel login\`${store ? ` or ${store}` : ""}`, true);
    // Signed in, but the access token ran out while the issuer could not refresh it: retried, and at once on a new token.
    if (state === "signed_in") return new ConnectError("no_token", "the access token expired and could not be refreshed yet (see `cloudtolocalllm-tunnel status`)", false);
    const signIn = this.ctx.config.current().auth.issuer ? "sign in with `cloudtolocalllm-tunnel login`" : "";
    return new ConnectError("no_token", `no agent token: ${[store, signIn].filter(Boolean).join(" or ") || "set [tunnel] token_secret or configure [auth]"}`, true);
  }

  /**
   * The answers held across reconnects: one registry for the service's life, so a new connection resumes the old one's.
   * A reload that changes resume_window updates it in place: a new registry would strand the answers the old one holds.
   */
  private resumes: AnswerResumes | null = null;
  private resumesFor(c: TunnelConfig): AnswerResumes | undefined {
    const windowMs = resolveBy(TunnelSchema, c).resume_window;
    if (!windowMs) return undefined;
    if (this.resumes) this.resumes.setWindow(windowMs);
    else {
      const resumes = (this.resumes = new AnswerResumes(
        { ...DEFAULT_RESUME_LIMITS, windowMs },
        {
          resumed: (replayed) => {
            tunnelMetrics.resumed.inc();
            tunnelMetrics.replayed.inc(replayed);
            log.info("the relay resumed an answer on the new connection", { replayed_bytes: replayed });
          },
          stream: (s) => this.countStream(s),
          failed: (reason) => {
            tunnelMetrics.resumeFailed.inc({ reason });
            log.warn(RESUME_FAILED_LINES[reason] ?? RESUME_FAILED_LINES.window!, { reason, resume_window_ms: resumes.windowMs });
          },
        },
      ));
    }
    return this.resumes;
  }

  /** In flight until it finishes, then its bytes: a stream the relay opened, or one a resumed answer goes on over. */
  private countStream(s: Stream): void {
    tunnelMetrics.streams.inc();
    void s.finished.then(() => {
      tunnelMetrics.streams.dec();
      tunnelMetrics.bytes.inc({ direction: "in" }, s.bytesIn);
      tunnelMetrics.bytes.inc({ direction: "out" }, s.bytesOut);
    });
  }

  private onStream(s: Stream, resume?: AnswerResumes): void {
    this.countStream(s);
    // The one Request of the stream is the broker's: its URL and Host are the broker's, the relay's credentials gone.
    const brokerHost = this.brokerHost;
    // The settings of the moment (a reload may have changed the paths in place), not those the connection was made with.
    // The method as the relay named it: the Request has Bun's reading of it, and Bun makes a name it does not know a GET.
    const method = s.requestHead!.method;
    void serveStream(s, (req) => this.handle(req, this.cfg, method), { origin: `http://${brokerHost}`, headers: (h) => sanitizedHeaders(h, brokerHost), resume });
  }

  /** Streams the relay left waiting (stall_timeout), reset: one line per kind per window, then a count (a relay can stall them all at once). */
  private readonly stalls = new RepeatLimit();
  private stalled(reason: string): void {
    const line = this.stalls.note(reason);
    if (line.write) log.warn("reset a request the relay left waiting", { reason, repeated: line.repeated || undefined });
  }

  /**
   * One request from the relay, already cleaned (built so by serveStream, or by sanitize() for bridge-v1): checked, then
   * served by the broker like a local one (failover, metrics).
   */
  /** Refused paths (anyone holding a client key can send them): written once per kind per window, then a count. */
  private readonly refusals = new RepeatLimit();

  /** `method`: the one the relay sent, when it may differ from req.method (serveStream built req from the relay's head). */
  async handle(req: Request, c: TunnelConfig, method = req.method): Promise<Response> {
    const path = urlPath(req.url);
    const refused = checkPath(method, path + urlSearch(req.url), c);
    let res: Response;
    if (refused) {
      // Any cloud client of the relay can ask for refused paths as fast as it likes: one line per kind (the reason
      // without its path, so a new path each time is no new kind) per window.
      // The route the message names beside a respelled path ("/debug/x1, sent as …") goes too: /DEBUG/x1, /DEBUG/x2 … are one kind.
      const line = this.refusals.note(refused.message.split(path).join("").split(routeOf(path)).join(""));
      if (line.write) log.warn("refused a request from the relay", { method: method.slice(0, 32), path, reason: refused.message, repeated: line.repeated || undefined });
      // In the dialect of the route a ";…" parameter follows ("/v1/messages;x": Anthropic's), the one its caller speaks.
      const semi = path.indexOf(";");
      res = refused.toDialectResponse(semi > 0 ? path.slice(0, semi) : path);
    } else {
      const broker = this.ctx.services.broker;
      try {
        res = broker ? await broker.handle(req, "tunnel") : new HttpError("unavailable", "the broker is not running").toDialectResponse(path);
      } catch (e) {
        // A bug in the broker: the cloud client gets a 500 in its dialect, not a reset stream carrying our internal message.
        log.error("the broker failed a request from the relay", { method: req.method, path, error: e });
        res = new HttpError("internal", "the agent failed this request").toDialectResponse(path);
      }
    }
    tunnelMetrics.requests.inc({ status: String(res.status) });
    return res;
  }

  /**
   * While the relay refuses the stored token (or none is stored), reads the secret store every SECRET_RECHECK_MS: a
   * value set meanwhile (`secret set` writes the keyring or the file, not the daemon) starts a new attempt at once.
   */
  private watchSecret(): void {
    const s = this.last;
    const waiting = s?.state === "auth_failed" && AUTH_CODES.has(s.lastErrorCode ?? "") && this.tokenSource !== "auth" && !!this.cfg.token_secret;
    if (!waiting) return this.stopSecretWatch();
    if (this.secretTimer !== null) return;
    const name = this.cfg.token_secret;
    this.secretTimer = this.clock.setTimeout(async () => {
      this.secretTimer = null;
      const now = await Promise.resolve(this.ctx.services.secrets?.get(name)).catch(() => null);
      if (this.last?.state !== "auth_failed" || name !== this.cfg.token_secret) return;
      if (now && now !== this.lastToken) {
        log.info("the stored agent token changed; connecting with it", { secret: name });
        this.sup?.restart("the agent token changed");
      } else this.watchSecret();
    }, SECRET_RECHECK_MS);
  }

  private stopSecretWatch(): void {
    if (this.secretTimer !== null) this.clock.clearTimeout(this.secretTimer);
    this.secretTimer = null;
  }

  private onChange(s: SupervisorSnapshot): void {
    const prev = this.last;
    this.last = s;
    this.watchSecret();
    if (prev?.state !== s.state) {
      tunnelMetrics.setState(this.status().state);
      const fields = { relay: displayRelay(this.cfg.relay_url), tunnel_id: s.tunnelId ?? undefined, attempt: s.attempt || undefined };
      if (s.state === "connected") log.info("connected to the relay", { ...fields, protocol: this.cfg.protocol });
      else if (s.state === "auth_failed" && s.lastErrorCode === "signed_out") log.info("signed out: the tunnel waits for a sign-in", { ...fields, error: s.lastError });
      else if (s.state === "auth_failed" && NO_TOKEN_CODES.has(s.lastErrorCode ?? "")) log.warn("login required: the tunnel waits for a sign-in or a stored agent token", { ...fields, error: s.lastError });
      else if (s.state === "auth_failed") log.error("the relay refused our credentials; not retrying until they change", { ...fields, error: s.lastError, fix: this.status().fix ?? undefined });
      else if (s.state === "failed" && s.lastErrorCode === DISPLACED_CODE) log.warn("another agent took this tunnel over; stopped reconnecting", { ...fields, error: s.lastError, fix: DISPLACED_FIX });
      else if (s.state === "failed") log.error("tunnel stopped: this cannot be fixed by retrying", { ...fields, error: s.lastError, fix: this.status().fix ?? undefined });
      // A new supervisor's first snapshot is "stopped" (nothing ran yet): enabling the tunnel must not log that it stopped.
      else if (s.state === "stopped" && prev) log.info("tunnel stopped", fields);
      else if (s.state === "connecting") log.info("connecting to the relay", fields);
      // No retry follows a permanent failure (displaced, refused for good): nothing held for a resume can be resumed,
      // so the upstream generations behind it are cancelled now rather than at the end of the resume window.
      if (s.state === "failed") this.resumes?.abandonAll(`the tunnel stopped: ${s.lastError ?? s.lastErrorCode ?? "failed"}`);
    }
    // A planned move (the relay's GO_AWAY) is not a failure: the old connection finishes its streams meanwhile.
    if (s.moving && !prev?.moving) {
      this.moveRetryLogged = false;
      log.info("the relay is moving this tunnel; reconnecting at once", { relay: displayRelay(this.cfg.relay_url), reason: s.lastError });
    }
    if (s.state === "reconnecting" && s.nextRetryAt && s.nextRetryAt !== prev?.nextRetryAt) {
      const fields = { error: s.lastError, code: s.lastErrorCode, attempt: s.attempt, retry_in_ms: s.nextRetryAt - this.clock.now() };
      if (!s.moving) log.warn("relay connection failed; retrying", fields);
      // A move retries every 200 ms for up to 10 s (a relay restarting, a balancer still naming the old node): the first
      // failure says so, the rest would be 50 lines saying the same; past the window the ordinary backoff logs each.
      else if (!this.moveRetryLogged) {
        this.moveRetryLogged = true;
        log.info(`relay connection failed; retrying every ${MOVE_RETRY_MS} ms while the relay moves (up to ${MOVE_WINDOW_MS / 1000} s)`, { ...fields, moving: true });
      }
    }
    this.publish();
  }

  private publish(): void {
    const st = this.status();
    const key = JSON.stringify({ ...st, activeStreams: 0 });
    if (key === this.lastEmitted) return;
    this.lastEmitted = key;
    this.ctx.events.emit("tunnel.state", st);
  }
}

/** The Host the tunnel's requests carry to the broker; a random port (0) is named by the schema's default port. */
function brokerHostOf(c: Config): string {
  const { hostname, port } = splitListen(c.proxy.listen);
  const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  return `${host.includes(":") ? `[${host}]` : host}:${port || splitListen(ProxySchema.properties.listen.default as string).port}`;
}

export const createTunnelComponent: ComponentFactory = (ctx): Component => {
  const svc = new TunnelService(ctx);
  let unsubscribe: (() => void) | null = null;
  return {
    name: "tunnel",
    async start() {
      ctx.services.tunnel = svc;
      tunnelMetrics.setState(svc.status().state);
      tunnelMetrics.readRttFrom(() => svc.rttMs());
      const auth = ctx.services.auth as { onToken?(cb: (t: string | null) => void): () => void } | undefined;
      unsubscribe = auth?.onToken?.((t) => svc.tokenChanged(t)) ?? null;
    },
    // Only once the daemon runs (its API listens): a second copy that fails on the ports would otherwise connect first,
    // and the relay, handing the tunnel to the newest agent, would cut the running daemon's (seen with `npm start` twice).
    async started() {
      if (ctx.config.current().tunnel.enabled) await svc.start();
    },
    async stop() {
      unsubscribe?.();
      tunnelMetrics.readRttFrom(null);
      // Like the relay's go_away_grace: requests the cloud is being answered finish, no new ones arrive meanwhile.
      await svc.shutdown("the daemon is stopping", svc.graceMs);
    },
    stopGraceMs: () => (ctx.config.current().tunnel.enabled ? svc.graceMs : 0),
    apply: (next, prev, changed) => svc.apply(next, changed),
  };
};

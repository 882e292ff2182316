// The tray's link to the daemon: follows /ws (snapshot, then events), reconnects with backoff, and calls the control API.
import type { Alert, DaemonStatus } from "../src/core/contracts.ts";
import type { WsMessage } from "../src/core/events.ts";
import { logger } from "../src/core/log.ts";
import { ApiError, type ApiClient } from "../src/client/api-client.ts";

const log = logger("tray");

export interface LinkState {
  status: DaemonStatus | null;
  /** True while trying to reach the daemon before the first answer (or after "Start daemon"). */
  linking: boolean;
  lastAlert: Alert | null;
  /** Bumped whenever the whole status is replaced (snapshot, or a re-read after a config reload), not on ticks. */
  revision: number;
  /** The daemon answers but the live stream was refused (e.g. the API token is missing or wrong). */
  problem: string | null;
  /** Dashboard access requests waiting for approval (from dashboard.access events), oldest first. */
  access: { code: string; expiresAt: string }[];
}

/** The waiting requests after one dashboard.access event: a new one added, an approved one removed, expired ones dropped. */
export function pendingAccess(list: LinkState["access"], e: { code: string; state: "requested" | "approved"; expiresAt: string }, now = Date.now()): LinkState["access"] {
  const rest = list.filter((a) => a.code !== e.code && Date.parse(a.expiresAt) > now);
  return e.state === "requested" ? [...rest, { code: e.code, expiresAt: e.expiresAt }] : rest;
}

export interface DaemonLinkOptions {
  /** The one API client: its base gives the /ws address, its token the credentials. */
  client: ApiClient;
  onChange(state: LinkState): void;
  backoff?: { initialMs: number; maxMs: number };
  /** Injectable for tests. */
  WebSocketImpl?: typeof WebSocket;
}

export class DaemonLink {
  private ws: WebSocket | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private delay: number;
  private stopped = false;
  readonly state: LinkState = { status: null, linking: true, lastAlert: null, revision: 0, problem: null, access: [] };

  constructor(private readonly opts: DaemonLinkOptions) {
    this.delay = opts.backoff?.initialMs ?? 500;
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.ws?.close();
    this.ws = null;
  }

  /** Tries again right away (after "Start daemon"), with a fresh backoff. */
  reconnectNow(): void {
    if (this.ws) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.delay = this.opts.backoff?.initialMs ?? 500;
    this.state.linking = true;
    this.emit();
    this.connect();
  }

  private emit(): void {
    this.opts.onChange(this.state);
  }

  private headers(): Record<string, string> {
    const token = this.opts.client.opts.token?.();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  private connect(): void {
    if (this.stopped) return;
    const url = this.opts.client.base.replace(/^http/, "ws") + "/ws";
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      // Bun's WebSocket takes headers; the token never goes into the URL.
      ws = new (Impl as unknown as new (u: string, o: unknown) => WebSocket)(url, { headers: this.headers() });
    } catch (e) {
      this.scheduleRetry(e as Error);
      return;
    }
    this.ws = ws;
    let gotSnapshot = false;
    ws.onmessage = (m) => {
      let msg: WsMessage;
      try {
        msg = JSON.parse(String(m.data));
      } catch {
        return;
      }
      if (msg.type === "snapshot") {
        gotSnapshot = true;
        this.delay = this.opts.backoff?.initialMs ?? 500;
        this.state.status = msg.data;
        this.state.problem = null;
        this.state.revision++;
        this.state.linking = false;
        const newest = [...msg.data.alerts].sort((a, b) => b.raisedAt.localeCompare(a.raisedAt))[0];
        if (newest) this.state.lastAlert = newest;
        this.emit();
        return;
      }
      if (this.state.status && this.apply(msg)) this.emit();
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wasUp = this.state.status !== null;
      this.state.status = null;
      this.state.linking = false;
      if (wasUp) log.info("lost the daemon; reconnecting", { code: ev.code });
      this.scheduleRetry(gotSnapshot ? null : new Error(ev.reason || `closed with code ${ev.code}`));
      if (gotSnapshot) {
        this.state.problem = null;
        this.emit();
      } else void this.diagnose().then(() => this.emit());
    };
    ws.onerror = () => {
      // onclose follows and handles the retry.
    };
  }

  private scheduleRetry(err: Error | null): void {
    if (this.stopped || this.retryTimer) return;
    const delay = err ? this.delay : (this.opts.backoff?.initialMs ?? 500);
    if (err) this.delay = Math.min(this.delay * 2, this.opts.backoff?.maxMs ?? 15_000);
    log.debug("daemon not reachable; retrying", { in_ms: delay, error: err?.message });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  // A refused stream looks like "not running" unless the daemon is asked why: then "Start daemon" would start a second one.
  private async diagnose(): Promise<void> {
    const before = this.state.problem;
    try {
      await this.opts.client.call("GET", "/api/v1/status", { timeoutMs: 3000 });
      this.state.problem = null;
    } catch (e) {
      // Nothing listens: really not running. Anything else the daemon said is why it refused the stream.
      const refused = e instanceof ApiError && !e.unreachable;
      this.state.problem = refused ? `the daemon runs but refused the tray: ${e.message}${this.opts.client.opts.token?.() ? "" : " (no API token file yet)"}` : null;
    }
    if (this.state.problem && this.state.problem !== before) log.warn(this.state.problem);
  }

  /** Applies one event to the status; returns whether anything the tray shows may have changed. */
  private apply(msg: WsMessage): boolean {
    const s = this.state.status!;
    switch (msg.type) {
      case "metrics.tick": {
        let changed = false;
        for (const m of msg.data.upstreams ?? []) {
          const u = s.upstreams.find((x) => x.name === m.name);
          if (u && u.metrics.latencyMs.p95 !== m.metrics.latencyMs.p95) changed = true;
          if (u) u.metrics = m.metrics;
        }
        return changed;
      }
      case "upstream.state": {
        const u = s.upstreams.find((x) => x.name === msg.data.name);
        if (u) u.state = msg.data.to;
        this.refreshSoon();
        return true;
      }
      case "upstream.quality": {
        const u = s.upstreams.find((x) => x.name === msg.data.name);
        if (u) u.quality = msg.data.to;
        this.refreshSoon();
        return true;
      }
      case "tunnel.state":
        s.tunnel = msg.data;
        return true;
      case "alert.raised":
        s.alerts = [...s.alerts.filter((a) => a.id !== msg.data.id), msg.data];
        this.state.lastAlert = msg.data;
        return true;
      case "alert.cleared":
        s.alerts = s.alerts.filter((a) => a.id !== msg.data.id);
        this.state.lastAlert = msg.data;
        return true;
      case "auth.state":
        s.auth = { state: msg.data.state, subject: msg.data.subject ?? null, expiresAt: msg.data.expiresAt ?? null, reason: msg.data.reason ?? null, refresh: msg.data.refresh ?? null };
        return true;
      case "config.reloaded":
      case "config.rejected":
        this.refreshSoon();
        return false;
      case "dashboard.access":
        this.state.access = pendingAccess(this.state.access, msg.data);
        return true;
      default:
        return false;
    }
  }

  // Events carry deltas; the full record (versions, model lists, overall quality) comes from one status read after a burst.
  private refreshSoon(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = null;
      try {
        const fresh = await this.opts.client.call("GET", "/api/v1/status");
        if (this.state.status) {
          this.state.status = fresh;
          this.state.revision++;
          this.emit();
        }
      } catch (e) {
        log.debug("status refresh failed", { error: e as Error });
      }
    }, 250);
  }
}

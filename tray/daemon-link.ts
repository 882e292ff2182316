// The tray command's status source: follows the daemon's /ws over HTTP (snapshot, then events), reconnects with backoff.
import type { WsMessage } from "../src/core/events.ts";
import { logger } from "../src/core/log.ts";
import { ApiError, type ApiClient } from "../src/client/api-client.ts";
import { StatusFollower, type LinkState } from "./status-follower.ts";
import type { StatusSource } from "./tray-ports.ts";

export { pendingAccess, type LinkState } from "./status-follower.ts";

const log = logger("tray");

export interface DaemonLinkOptions {
  /** The one API client: its base gives the /ws address, its token the credentials. */
  client: ApiClient;
  onChange(state: LinkState): void;
  backoff?: { initialMs: number; maxMs: number };
  /** Injectable for tests. */
  WebSocketImpl?: typeof WebSocket;
}

export class DaemonLink implements StatusSource {
  private ws: WebSocket | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private delay: number;
  private stopped = false;
  private readonly follower: StatusFollower;

  constructor(private readonly opts: DaemonLinkOptions) {
    this.delay = opts.backoff?.initialMs ?? 500;
    this.follower = new StatusFollower(() => this.opts.client.call("GET", "/api/v1/status"), () => this.emit());
  }

  get state(): LinkState {
    return this.follower.state;
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.follower.stop();
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
      }
      this.follower.message(msg);
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
      // Another user's program at the daemon's address: the token was kept back, and the message says so.
      if (e instanceof ApiError && e.code === "foreign_listener") this.state.problem = e.message;
      else this.state.problem = refused ? `the daemon runs but refused the tray: ${e.message}${this.opts.client.opts.token?.() ? "" : " (no API token file yet)"}` : null;
    }
    if (this.state.problem && this.state.problem !== before) log.warn(this.state.problem);
  }
}

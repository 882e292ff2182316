// The tray's picture of the daemon (LinkState): a snapshot, then the event stream applied to it, whichever way both arrive (/ws or in-process).
import type { Alert, DaemonStatus } from "../src/core/contracts.ts";
import type { WsMessage } from "../src/core/events.ts";
import { logger } from "../src/core/log.ts";

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

export class StatusFollower {
  readonly state: LinkState = { status: null, linking: true, lastAlert: null, revision: 0, problem: null, access: [] };
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  /** `reread` fetches the whole status again (after a burst of events); `emit` tells the tray something changed. */
  constructor(
    private readonly reread: () => Promise<DaemonStatus>,
    private readonly emit: () => void,
  ) {}

  /** A whole status: the first message of a stream. */
  snapshot(status: DaemonStatus): void {
    this.state.status = status;
    this.state.problem = null;
    this.state.revision++;
    this.state.linking = false;
    const newest = [...status.alerts].sort((a, b) => b.raisedAt.localeCompare(a.raisedAt))[0];
    if (newest) this.state.lastAlert = newest;
    this.emit();
  }

  /** One message after the snapshot; emits when anything the tray shows may have changed. */
  message(msg: WsMessage): void {
    if (msg.type === "snapshot") return this.snapshot(msg.data);
    if (this.state.status && this.apply(msg)) this.emit();
  }

  stop(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** Applies one event to the status; returns whether anything the tray shows may have changed. */
  private apply(msg: Exclude<WsMessage, { type: "snapshot" }>): boolean {
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
        s.auth = { state: msg.data.state, subject: msg.data.subject ?? null, expiresAt: msg.data.expiresAt ?? null, reason: msg.data.reason ?? null, refresh: msg.data.refresh ?? null, unstored: msg.data.unstored ?? null };
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
        const fresh = await this.reread();
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

// The one table of /ws message types: every EventBus event plus the snapshot and the metrics tick (docs/api.md mirrors it).
import type { EventType } from "../../../core/events.ts";

export type WsMessageType = "snapshot" | "metrics.tick" | EventType;

export interface WsMessageInfo {
  /** When it is sent. */
  when: string;
  /** What `data` holds. */
  data: string;
}

/** Adding an event to EventMap without describing it here is a compile error. */
export const WS_MESSAGES: Record<WsMessageType, WsMessageInfo> = {
  snapshot: { when: "First message after the connection opens.", data: "DaemonStatus (as GET /api/v1/status)." },
  "metrics.tick": {
    when: "Once a second while at least one client is connected; dropped (not queued) for a client that is behind.",
    data: "{ upstreams: [{ name, metrics: UpstreamMetrics, loaded?, capacity? }], tunnel: { state, activeStreams, attempt }, queue? } (queue: the broker's, as in DaemonStatus; loaded and capacity: what the upstream reported with its last health check, as in UpstreamStatus)",
  },
  "upstream.state": { when: "An upstream changes state (unknown/up/degraded/down).", data: "{ name, from, to, reason? }" },
  "upstream.quality": { when: "An upstream's quality level changes.", data: "{ name, from, to }" },
  "tunnel.state": { when: "The tunnel changes state.", data: "TunnelStatus" },
  "config.reloaded": { when: "A new config was applied (file edited on disk, SIGHUP, or PUT /api/v1/config).", data: "{ path, sections, version }" },
  "config.rejected": { when: "An edited config file is invalid; the running config stays.", data: "{ path, message, line?, column?, field? }" },
  "alert.raised": { when: "An alert rule fires.", data: "Alert" },
  "alert.cleared": { when: "A raised alert clears.", data: "Alert (with clearedAt)" },
  "auth.progress": { when: "A sign-in flow advances (device code shown, waiting, done).", data: "{ step, message, verificationUri?, userCode? }" },
  "auth.state": { when: "The sign-in state changes.", data: "{ state, subject?, expiresAt?, reason?, refresh?, unstored? }" },
  "request.completed": { when: "A request through the broker or the tunnel finished.", data: "RequestRecord" },
  "request.resumed": { when: "A tunnel answer already reported by request.completed was resumed after a lost relay connection.", data: "{ id, resumed: { count, replayedBytes } }" },
  "dashboard.access": { when: "A page asked for dashboard access, or that request was approved (the tray offers approving it).", data: "{ code, state: requested|approved, expiresAt }" },
  "daemon.started": { when: "The daemon finished starting (rarely seen: /ws opens after it).", data: "{ version, pid }" },
  shutdown: { when: "The daemon is stopping; the connection closes right after.", data: "{ reason }" },
};

/** The tick's data, and the whole message union, are defined once in src/core (contracts.ts, events.ts). */
export type { MetricsTick as TickData } from "../../../core/contracts.ts";
export type { WsMessage } from "../../../core/events.ts";

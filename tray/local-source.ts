// The daemon's own tray's status source: the status built in-process and the daemon's events as they are emitted (no HTTP, no /ws).
import type { DaemonContext } from "../src/core/component.ts";
import type { EventType } from "../src/core/events.ts";
import { buildStatus, tunnelStatus, upstreamList } from "../src/api/modules/status/service.ts";
import { StatusFollower, type LinkState } from "./status-follower.ts";
import type { StatusSource } from "./tray-ports.ts";

/**
 * The events the tray shows. Named one by one rather than "*": a "*" listener would make the broker build a
 * request.completed record for every request (EventBus.heard) just for the tray to ignore it.
 */
export const FOLLOWED: readonly EventType[] = [
  "upstream.state",
  "upstream.quality",
  "tunnel.state",
  "alert.raised",
  "alert.cleared",
  "auth.state",
  "config.reloaded",
  "config.rejected",
  "dashboard.access",
];

/** How often the latency in the tooltip is brought up to date (the HTTP tray gets /ws ticks every second; idle wake-ups count here). */
export const TICK_MS = 5000;

export class LocalSource implements StatusSource {
  private readonly follower: StatusFollower;
  private unsubscribe: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly ctx: DaemonContext,
    onChange: (s: LinkState) => void,
    private readonly tickMs = TICK_MS,
  ) {
    this.follower = new StatusFollower(async () => buildStatus(ctx), () => onChange(this.follower.state));
  }

  get state(): LinkState {
    return this.follower.state;
  }

  start(): void {
    this.follower.snapshot(buildStatus(this.ctx));
    this.unsubscribe = FOLLOWED.map((type) => this.ctx.events.on(type, (e) => this.follower.message(e)));
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref?.();
  }

  private tick(): void {
    const upstreams = upstreamList(this.ctx).map((u) => ({ name: u.name, metrics: u.metrics }));
    const t = tunnelStatus(this.ctx);
    const tunnel = { state: t.state, activeStreams: t.activeStreams, attempt: t.attempt };
    this.follower.message({ type: "metrics.tick", time: new Date().toISOString(), data: { upstreams, tunnel } });
  }

  stop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.follower.stop();
  }

  reconnectNow(): void {}
}

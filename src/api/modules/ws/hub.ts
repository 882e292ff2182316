// Fans daemon events out to /ws clients, runs the metrics tick only while someone listens, and keeps slow clients from growing memory.
import type { DaemonContext } from "../../../core/component.ts";
import type { DaemonEvent } from "../../../core/events.ts";
import { logger } from "../../../core/log.ts";
import { buildStatus, tunnelStatus, upstreamList } from "../status/service.ts";
import type { TickData, WsMessage } from "./messages.ts";

const log = logger("api");

/** The part of a socket the hub needs (Bun's ServerWebSocket fits; tests pass fakes). */
export interface WsClient {
  /** Bun semantics: bytes sent, -1 queued under backpressure, 0 dropped. */
  send(text: string): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
}

export interface HubLimits {
  /** Above this many queued bytes a client gets no metrics ticks until it catches up. */
  tickSkipBytes: number;
  /** Above this many queued bytes a client is disconnected (it can reconnect and catch up with a snapshot). */
  maxBufferedBytes: number;
  tickMs: number;
}

export const DEFAULT_LIMITS: HubLimits = { tickSkipBytes: 64 * 1024, maxBufferedBytes: 1024 * 1024, tickMs: 1000 };

export class WsHub {
  private clients = new Set<WsClient>();
  private unsubscribe: (() => void) | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Ticks not sent because a client was behind, and clients closed for being too slow (for tests and debugging). */
  readonly stats = { ticksDropped: 0, slowClosed: 0 };

  constructor(
    private readonly ctx: DaemonContext,
    private readonly limits: HubLimits = DEFAULT_LIMITS,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  add(client: WsClient): void {
    this.clients.add(client);
    this.sendTo(client, JSON.stringify({ type: "snapshot", data: buildStatus(this.ctx) } satisfies WsMessage), false);
    if (this.clients.size === 1 && !this.unsubscribe) {
      this.unsubscribe = this.ctx.events.on("*", (e) => this.onEvent(e));
      this.timer = setInterval(() => this.tick(), this.limits.tickMs);
    }
  }

  remove(client: WsClient): void {
    if (!this.clients.delete(client) || this.clients.size) return;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  closeAll(code = 1001, reason = "daemon stopping"): void {
    for (const c of [...this.clients]) {
      try {
        c.close(code, reason);
      } catch {}
      this.remove(c);
    }
  }

  tickData(): TickData {
    const t = tunnelStatus(this.ctx);
    return {
      // The load each server reported with its last health check moves without a state change: the cards follow it here.
      upstreams: upstreamList(this.ctx).map((u) => ({ name: u.name, metrics: u.metrics, ...(u.loaded ? { loaded: u.loaded } : {}), ...(u.capacity !== undefined ? { capacity: u.capacity } : {}) })),
      tunnel: { state: t.state, activeStreams: t.activeStreams, attempt: t.attempt },
      ...(this.ctx.services.broker?.queue ? { queue: this.ctx.services.broker.queue() } : {}),
    };
  }

  tick(): void {
    if (!this.clients.size) return;
    const text = JSON.stringify({ type: "metrics.tick", time: new Date().toISOString(), data: this.tickData() } satisfies WsMessage);
    for (const c of this.clients) this.sendTo(c, text, true);
  }

  private onEvent(e: DaemonEvent): void {
    // Every daemon event is a /ws message as it is; `type` first, as the other messages have it.
    const msg: WsMessage = e;
    const text = JSON.stringify({ type: msg.type, seq: e.seq, time: e.time, data: e.data });
    for (const c of this.clients) this.sendTo(c, text, false);
  }

  /** Ticks are droppable; events are not, so a client that cannot take one more is disconnected instead. */
  private sendTo(c: WsClient, text: string, droppable: boolean): void {
    const buffered = c.getBufferedAmount();
    if (droppable && buffered > this.limits.tickSkipBytes) {
      this.stats.ticksDropped++;
      return;
    }
    if (buffered + text.length > this.limits.maxBufferedBytes || c.send(text) === 0) {
      this.stats.slowClosed++;
      log.warn("closing a /ws client that does not keep up", { bufferedBytes: buffered });
      try {
        c.close(1013, "too slow: reconnect to get a fresh snapshot");
      } catch {}
      this.remove(c);
    }
  }
}

// The daemon's typed event bus and its bounded ring of recent events; the one table of event types lives here.
import type { Alert, AuthState, DaemonStatus, RefreshTrouble, MetricsTick, Quality, RequestRecord, TunnelStatus, UpstreamState } from "./contracts.ts";

/** Every event the daemon emits: name → payload. The API's /ws and /api/v1/events carry these names as `type`. */
export interface EventMap {
  "upstream.state": { name: string; from: UpstreamState; to: UpstreamState; reason?: string };
  "upstream.quality": { name: string; from: Quality; to: Quality };
  "tunnel.state": TunnelStatus;
  "config.reloaded": { path: string; sections: string[]; version: number };
  "config.rejected": { path: string; message: string; line?: number; column?: number; field?: string };
  "alert.raised": Alert;
  "alert.cleared": Alert;
  "auth.progress": { step: "device_code" | "waiting" | "signed_in" | "failed" | "signed_out" | "refreshed"; message: string; verificationUri?: string; userCode?: string };
  "auth.state": { state: AuthState; subject?: string; expiresAt?: string; reason?: string; refresh?: RefreshTrouble; unstored?: string };
  "request.completed": RequestRecord;
  /** A tunnel answer already recorded was resumed after a lost relay connection (its upstream had finished meanwhile). */
  "request.resumed": { id: string; resumed: NonNullable<RequestRecord["resumed"]> };
  /** A page asked for dashboard access (its code, for the tray to offer approving it), or the request was approved. */
  "dashboard.access": { code: string; state: "requested" | "approved"; expiresAt: string };
  "daemon.started": { version: string; pid: number };
  "shutdown": { reason: string };
}

export type EventType = keyof EventMap;
/**
 * One event as listeners, /ws and /api/v1/events see it. Without a type argument it is the union of every event, so
 * `switch (e.type)` narrows `e.data` to that event's payload: no listener casts.
 */
export type DaemonEvent<K extends EventType = EventType> = K extends EventType ? { seq: number; type: K; time: string; data: EventMap[K] } : never;

/** Every message /ws sends: the snapshot first, then the once-a-second tick and the daemon's events (the tray and the dashboard read these). */
export type WsMessage = { type: "snapshot"; data: DaemonStatus } | { type: "metrics.tick"; time: string; data: MetricsTick } | DaemonEvent;

type Listener = (e: DaemonEvent) => void;

/** Events kept in the ring (request.completed and .resumed go to the inspector instead; access codes go only to /ws, which needs the token). */
const NOT_RINGED: ReadonlySet<EventType> = new Set(["request.completed", "request.resumed", "dashboard.access"]);

/** Calls one listener with the event passed as `this`: forEach with it allocates nothing per event, where a for-of
 * over the Set made an iterator per emit (request.completed is emitted per request). */
function callListener(this: DaemonEvent, fn: Listener): void {
  // One faulty subscriber must not break the emitter or the others.
  try {
    fn(this);
  } catch {}
}

function deliver(set: Set<Listener> | undefined, e: DaemonEvent): void {
  if (set) set.forEach(callListener, e);
}

export class EventBus {
  private seq = 0;
  private listeners = new Map<EventType | "*", Set<Listener>>();
  private ring: DaemonEvent[] = [];
  /** The last formatted time: events in the same millisecond (a burst of request.completed) share the string. */
  private lastMs = -1;
  private lastTime = "";

  constructor(private readonly ringSize = 500) {}

  emit<K extends EventType>(type: K, data: EventMap[K]): DaemonEvent<K> {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastTime = new Date(now).toISOString();
    }
    const e = { seq: ++this.seq, type, time: this.lastTime, data } as DaemonEvent<K>;
    if (!NOT_RINGED.has(type)) {
      this.ring.push(e as DaemonEvent);
      if (this.ring.length > this.ringSize) this.ring.shift();
    }
    // Two lookups rather than a loop over [type, "*"]: no array per event (request.completed is emitted per request).
    deliver(this.listeners.get(type), e as DaemonEvent);
    deliver(this.listeners.get("*"), e as DaemonEvent);
    return e;
  }

  on<K extends EventType>(type: K | "*", fn: (e: DaemonEvent<K>) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn as Listener);
    return () => set!.delete(fn as Listener);
  }

  recent(limit = this.ringSize): DaemonEvent[] {
    return this.ring.slice(-limit);
  }

  /** Whether an event of this type would reach anyone (its own listeners or "*" ones): lets emitters skip building costly payloads. */
  heard(type: EventType): boolean {
    return (this.listeners.get(type)?.size ?? 0) > 0 || (this.listeners.get("*")?.size ?? 0) > 0;
  }

  listenerCount(type: EventType | "*"): number {
    return this.listeners.get(type)?.size ?? 0;
  }
}

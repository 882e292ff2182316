// The recent event log (the EventBus ring), filtered.
import type { DaemonContext } from "../../../core/component.ts";
import type { DaemonEvent } from "../../../core/events.ts";

export function recentEvents(ctx: DaemonContext, q: { limit?: number; type?: string; since?: number }): DaemonEvent[] {
  let list = ctx.events.recent();
  if (q.since !== undefined) list = list.filter((e) => e.seq > q.since!);
  if (q.type) {
    const prefix = q.type.endsWith(".") ? q.type : null;
    list = list.filter((e) => (prefix ? e.type.startsWith(prefix) : e.type === q.type));
  }
  return list.slice(-(q.limit ?? 100));
}

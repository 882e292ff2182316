// Shapes of GET /api/v1/events.
import { t } from "elysia";

export const EventsQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100, description: "Newest events returned." })),
  type: t.Optional(t.String({ description: 'One event type ("upstream.state") or a prefix ending in a dot ("alert.").', examples: ["upstream.state"] })),
  since: t.Optional(t.Integer({ minimum: 0, description: "Only events with a larger seq (to catch up after a /ws reconnect)." })),
});

export const DaemonEvent = t.Object(
  { seq: t.Number(), type: t.String(), time: t.String(), data: t.Unknown() },
  { examples: [{ seq: 7, type: "upstream.state", time: "2026-11-21T15:00:00.000Z", data: { name: "local", from: "up", to: "down" } }] },
);

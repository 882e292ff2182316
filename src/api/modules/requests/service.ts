// Reads the request inspector's ring for the API (filters are the ring's own).
import type { DaemonContext } from "../../../core/component.ts";
import { HttpError } from "../../../core/http-error.ts";
import type { RequestFilter } from "../../../inspector/ring.ts";

type Query = Omit<RequestFilter, "source"> & { source?: string };

export function listRequests(ctx: DaemonContext, query: Query) {
  const filter = query as RequestFilter; // source is checked against local|tunnel by the route's schema
  const inspector = ctx.services.inspector;
  if (!inspector) throw new HttpError("unavailable", "the request inspector is not running in this daemon");
  const o = inspector.options();
  return { requests: inspector.list({ ...filter, limit: filter.limit ?? 200 }), capacity: o.size, captureBodies: o.captureBodies, bodyCap: o.bodyCap, brokerUrl: ctx.services.brokerUrl?.() ?? null };
}

// Upstream listing, one upstream, an on-demand health check and "reconnect all" through the broker.
import type { DaemonContext } from "../../../core/component.ts";
import type { BrokerService, UpstreamStatus } from "../../../core/contracts.ts";
import { HttpError } from "../../../core/http-error.ts";
import { shownUpstream, upstreamList } from "../status/service.ts";

function broker(ctx: DaemonContext): BrokerService {
  const b = ctx.services.broker;
  if (!b) throw new HttpError("unavailable", "the broker is not running, so upstreams cannot be checked");
  return b;
}

function notFound(ctx: DaemonContext, name: string): HttpError {
  const names = ctx.config.current().upstreams.map((u) => u.name);
  return new HttpError("not_found", `no upstream named "${name}"${names.length ? ` (configured: ${names.join(", ")})` : ""}`);
}

export function getUpstream(ctx: DaemonContext, name: string): UpstreamStatus {
  const u = upstreamList(ctx).find((x) => x.name === name);
  if (!u) throw notFound(ctx, name);
  return u;
}

export async function checkUpstream(ctx: DaemonContext, name: string): Promise<UpstreamStatus> {
  getUpstream(ctx, name);
  return shownUpstream(await broker(ctx).check(name));
}

export async function reconnectAll(ctx: DaemonContext): Promise<UpstreamStatus[]> {
  const b = broker(ctx);
  await b.reconnectAll();
  return upstreamList(ctx);
}

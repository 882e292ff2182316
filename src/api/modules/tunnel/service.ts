// Tunnel status and start/stop/restart; a disabled or absent tunnel is a 409 with the reason, never a silent no-op.
import type { DaemonContext } from "../../../core/component.ts";
import type { TunnelControl, TunnelStatus } from "../../../core/contracts.ts";
import { HttpError } from "../../../core/http-error.ts";
import { tunnelStatus } from "../status/service.ts";

export type TunnelAction = "start" | "stop" | "restart";

function control(ctx: DaemonContext): TunnelControl {
  if (!ctx.config.current().tunnel.enabled)
    throw new HttpError("tunnel_disabled", "the tunnel is disabled in the config: set [tunnel] enabled = true and relay_url, then reload");
  const t = ctx.services.tunnel;
  if (!t) throw new HttpError("tunnel_disabled", "the tunnel is enabled in the config but is not running in this daemon (see the daemon log)");
  return t;
}

export function getTunnel(ctx: DaemonContext): TunnelStatus {
  return tunnelStatus(ctx);
}

export async function tunnelAction(ctx: DaemonContext, action: TunnelAction): Promise<TunnelStatus> {
  const t = control(ctx);
  await t[action]();
  return t.status();
}

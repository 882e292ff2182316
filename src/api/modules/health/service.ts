// Liveness and readiness: ready when the config is loaded and an upstream is up, or the tunnel is connected in a tunnel-only setup.
import type { DaemonContext } from "../../../core/component.ts";
import { tunnelStatus, upstreamList } from "../status/service.ts";

export interface Readiness {
  ready: boolean;
  reason: string;
}

export function readiness(ctx: DaemonContext): Readiness {
  const config = ctx.config.current();
  const up = upstreamList(ctx).filter((u) => u.enabled && (u.state === "up" || u.state === "degraded"));
  if (up.length) return { ready: true, reason: `upstream ${up.map((u) => u.name).join(", ")} up` };
  // Without the local proxy the daemon's only job is the tunnel.
  if (!config.proxy.enabled && config.tunnel.enabled) {
    const tunnel = tunnelStatus(ctx);
    return tunnel.state === "connected"
      ? { ready: true, reason: "tunnel connected (tunnel-only setup)" }
      : { ready: false, reason: `the tunnel is ${tunnel.state} (tunnel-only setup)` };
  }
  if (!ctx.services.broker) return { ready: false, reason: "the broker is not running" };
  const enabled = config.upstreams.filter((u) => u.enabled);
  if (!enabled.length) return { ready: false, reason: "no upstream is configured and enabled" };
  return { ready: false, reason: `no upstream is up (${enabled.map((u) => u.name).join(", ")})` };
}

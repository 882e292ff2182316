// Metrics as JSON (per upstream and tunnel) and as Prometheus text: the shared registry plus daemon gauges read at scrape time.
import { Gauge, Registry } from "prom-client";
import { VERSION, COMMIT } from "../../../core/build-info.ts";
import type { DaemonContext } from "../../../core/component.ts";
import type { Quality } from "../../../core/contracts.ts";
import { metricsRegistry } from "../../../core/metrics-registry.ts";
import { reasonLabel } from "../../../core/verdict.ts";
import { healthVerdict, tunnelStatus, upstreamList } from "../status/service.ts";

const QUALITY_SCORE: Record<Quality, number> = { excellent: 4, good: 3, poor: 2, critical: 1, down: 0 };

export function metricsJson(ctx: DaemonContext) {
  const upstreams = upstreamList(ctx);
  const tunnel = tunnelStatus(ctx);
  const mem = process.memoryUsage();
  const verdict = healthVerdict(ctx, upstreams);
  return {
    time: new Date().toISOString(),
    quality: verdict.quality,
    verdict,
    upstreams: upstreams.map((u) => ({ name: u.name, state: u.state, quality: u.quality, metrics: u.metrics })),
    tunnel: { state: tunnel.state, activeStreams: tunnel.activeStreams, attempt: tunnel.attempt },
    process: { uptimeSec: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000), rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
  };
}

/** Gauges describing the daemon itself, in their own registry (one per API instance, so tests can build many). */
export function daemonRegistry(ctx: DaemonContext): Registry {
  const reg = new Registry();
  new Gauge({
    name: "cloudtolocalllm_build_info",
    help: "Build of the running daemon (always 1).",
    labelNames: ["version", "commit"],
    registers: [reg],
    collect() {
      this.set({ version: VERSION, commit: COMMIT }, 1);
    },
  });
  new Gauge({
    name: "cloudtolocalllm_uptime_seconds",
    help: "Seconds since the daemon started.",
    registers: [reg],
    collect() {
      this.set((Date.now() - ctx.startedAt.getTime()) / 1000);
    },
  });
  new Gauge({
    name: "cloudtolocalllm_upstream_up",
    help: "1 when the upstream is up or degraded, 0 otherwise.",
    labelNames: ["upstream"],
    registers: [reg],
    collect() {
      this.reset();
      for (const u of upstreamList(ctx)) this.set({ upstream: u.name }, u.state === "up" || u.state === "degraded" ? 1 : 0);
    },
  });
  new Gauge({
    name: "cloudtolocalllm_upstream_quality",
    help: "Upstream quality: 4 excellent, 3 good, 2 poor, 1 critical, 0 down.",
    labelNames: ["upstream"],
    registers: [reg],
    collect() {
      this.reset();
      for (const u of upstreamList(ctx)) this.set({ upstream: u.name }, QUALITY_SCORE[u.quality] ?? 0);
    },
  });
  new Gauge({
    name: "cloudtolocalllm_quality",
    help: "The headline quality (as status shows it): 4 excellent, 3 good, 2 poor, 1 critical, 0 down.",
    registers: [reg],
    collect() {
      this.set(QUALITY_SCORE[healthVerdict(ctx).quality] ?? 0);
    },
  });
  new Gauge({
    // An info-style series (always 1): the verdict's words are its labels, so an alert rule or a dashboard can show them.
    name: "cloudtolocalllm_health_verdict",
    help: "The health verdict status, the tray and the dashboard show (always 1): quality, level, the upstream at fault, the reason and the fix.",
    labelNames: ["quality", "level", "upstream", "reason", "fix"],
    registers: [reg],
    collect() {
      this.reset();
      const upstreams = upstreamList(ctx);
      const v = healthVerdict(ctx, upstreams);
      this.set({ quality: v.quality, level: v.level, upstream: v.upstream ?? "", reason: reasonLabel(v, upstreams), fix: v.fix ?? "" }, 1);
    },
  });
  new Gauge({
    name: "cloudtolocalllm_tunnel_connected",
    help: "1 when the tunnel is connected to the relay.",
    registers: [reg],
    collect() {
      this.set(tunnelStatus(ctx).state === "connected" ? 1 : 0);
    },
  });
  new Gauge({
    name: "cloudtolocalllm_alerts_active",
    help: "Alerts currently raised.",
    registers: [reg],
    collect() {
      this.set(ctx.services.alerts?.active().length ?? 0);
    },
  });
  return reg;
}

export async function prometheusText(daemon: Registry): Promise<string> {
  const shared = await metricsRegistry.metrics();
  const own = await daemon.metrics();
  return shared.trim() ? `${shared.trimEnd()}\n\n${own}` : own;
}

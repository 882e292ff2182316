// Builds the DaemonStatus (GET /api/v1/status and the /ws snapshot) from whatever services are running; absent ones get honest defaults.
// Every URL in it goes through the one URL redaction (core/redact-url.ts): upstream and relay URLs, and any inside messages.
import { BUILD_DATE, COMMIT, VERSION } from "../../../core/build-info.ts";
import type { DaemonContext } from "../../../core/component.ts";
import type { DaemonStatus, TunnelStatus, UpstreamMetrics, UpstreamStatus, Verdict } from "../../../core/contracts.ts";
import { reloadIssueText } from "../../../core/reload-issue-text.ts";
import { verdict } from "../../../core/verdict.ts";
import { allowedOriginProblem } from "../../security/cors.ts";
import { redactUrl, redactUrlsDeep, redactUrlsIn } from "../../../net/redact-url.ts";

const NO_LATENCY = { p50: null, p90: null, p95: null, p99: null };

export function emptyMetrics(): UpstreamMetrics {
  return {
    requests: 0,
    errors: 0,
    errorRate: 0,
    latencyMs: NO_LATENCY,
    ttfbMs: NO_LATENCY,
    requestsPerSec: 0,
    bytesPerSec: 0,
    tokensPerSec: null,
    healthLatencyMs: NO_LATENCY,
    totalRequests: 0,
    totalErrors: 0,
  };
}

/** An upstream as shown: its URL, and any URL in its last error, redacted. */
export function shownUpstream(u: UpstreamStatus): UpstreamStatus {
  return { ...u, url: redactUrl(u.url), lastError: u.lastError === null ? null : redactUrlsIn(u.lastError) };
}

/** The broker's view, or the configured upstreams in state "unknown" while no broker runs. */
export function upstreamList(ctx: DaemonContext): UpstreamStatus[] {
  const broker = ctx.services.broker;
  if (broker) return broker.upstreams().map(shownUpstream);
  return ctx.config.current().upstreams.map((u) => ({
    name: u.name,
    kind: u.kind,
    url: redactUrl(u.url),
    enabled: u.enabled,
    priority: u.priority,
    state: "unknown",
    quality: "down",
    version: null,
    models: [],
    lastCheck: null,
    lastError: "the broker is not running",
    metrics: emptyMetrics(),
  }));
}

export function tunnelStatus(ctx: DaemonContext): TunnelStatus {
  const tunnel = ctx.services.tunnel;
  if (tunnel) {
    const t = tunnel.status();
    return { ...t, relay: t.relay === null ? null : redactUrl(t.relay), lastError: t.lastError === null ? null : redactUrlsIn(t.lastError) };
  }
  const cfg = ctx.config.current().tunnel;
  return {
    state: cfg.enabled ? "stopped" : "disabled",
    protocol: cfg.protocol,
    relay: null,
    since: null,
    nextRetry: null,
    attempt: 0,
    lastError: null,
    tunnelId: null,
    activeStreams: 0,
  };
}

function authStatus(ctx: DaemonContext): DaemonStatus["auth"] {
  const s = ctx.services.auth?.status();
  // The refresh error may name the issuer's URL: shown like the tunnel's error, with any credentials in it redacted.
  if (s)
    return {
      state: s.state,
      subject: s.subject,
      expiresAt: s.expiresAt,
      reason: s.reason === null ? null : redactUrlsIn(s.reason),
      refresh: s.refresh ? { ...s.refresh, lastError: redactUrlsIn(s.refresh.lastError) } : null,
      unstored: s.unstored ?? null,
    };
  return { state: ctx.config.current().auth.issuer ? "signed_out" : "disabled", subject: null, expiresAt: null };
}

/** The one verdict (src/core/verdict.ts) over the upstreams as shown; without a broker nothing can be served, whatever the config lists. */
export function healthVerdict(ctx: DaemonContext, upstreams: UpstreamStatus[] = upstreamList(ctx)): Verdict {
  return verdict(upstreams, !!ctx.services.broker);
}

/** Messages (warnings, alerts, the last reload's error) can quote a URL from the config: the whole object is swept as well. */
export function buildStatus(ctx: DaemonContext): DaemonStatus {
  return redactUrlsDeep(statusOf(ctx));
}

function statusOf(ctx: DaemonContext): DaemonStatus {
  const upstreams = upstreamList(ctx);
  const health = healthVerdict(ctx, upstreams);
  const warnings: string[] = [];
  if (ctx.services.secrets?.warning) warnings.push(ctx.services.secrets.warning);
  if (!ctx.services.broker) warnings.push("the broker is not running");
  warnings.push(...(ctx.services.alerts?.warnings?.() ?? []));
  const lastReload = ctx.config.lastReload();
  if (lastReload && !lastReload.ok) warnings.push(`the last config reload was rejected: ${lastReload.error ? reloadIssueText(lastReload.error) : "unknown error"}`);
  for (const o of ctx.config.current().api.allowed_origins) {
    const problem = allowedOriginProblem(o);
    if (problem) warnings.push(problem);
  }
  return {
    daemon: {
      version: VERSION,
      commit: COMMIT,
      buildDate: BUILD_DATE,
      pid: process.pid,
      startedAt: ctx.startedAt.toISOString(),
      uptimeSec: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
      configPath: ctx.config.path(),
      lastReload,
    },
    upstreams,
    tunnel: tunnelStatus(ctx),
    quality: health.quality,
    verdict: health,
    alerts: ctx.services.alerts?.active() ?? [],
    auth: authStatus(ctx),
    warnings,
    ...(ctx.services.broker?.queue ? { queue: ctx.services.broker.queue() } : {}),
  };
}

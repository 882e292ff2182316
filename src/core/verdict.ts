// The one health verdict: the headline quality, the worst problem with its reason and fix. Status, the CLI, the tray, the dashboard and /metrics render it.
import type { Quality, UpstreamStatus, Verdict, VerdictLevel } from "./contracts.ts";
import { isKindName, kindOf } from "../kinds/index.ts";

export const QUALITY_RANK: Record<Quality, number> = { excellent: 4, good: 3, poor: 2, critical: 1, down: 0 };

type Shown = Pick<UpstreamStatus, "name" | "kind" | "enabled" | "state" | "quality" | "lastError" | "metrics">;

/**
 * What to do about a failed check, by the upstream's kind and the reason's first words; first match wins. Fixes name
 * the upstream, never its URL: they also reach callers in error bodies (/api/tags through the tunnel), and the URL of a
 * LAN server is not theirs to learn; `status` shows the URL beside the name.
 */
const FIXES: { reason: RegExp; fix: (u: Shown) => string }[] = [
  // The kind's own advice when it has some (src/kinds/: how to start that server).
  { reason: /^connection refused/, fix: (u) => (isKindName(u.kind) && kindOf(u.kind).refusedHint) || `is the server of upstream "${u.name}" running, at the url the config gives?` },
  { reason: /^connection reset/, fix: (u) => `upstream "${u.name}" closed the connection: is it restarting, or is its url's scheme (http/https) right?` },
  { reason: /^host not found/, fix: (u) => `check the url of upstream "${u.name}" in the config file (\`cloudtolocalllm-tunnel config path\` names it)` },
  { reason: /^timed out/, fix: (u) => `upstream "${u.name}" did not answer in time: is it overloaded, or behind a firewall?` },
  { reason: /answered 40[13]\b/, fix: (u) => `the server refused the credentials: check auth_secret of upstream "${u.name}" (\`cloudtolocalllm-tunnel secret set …\`)` },
  { reason: /answered 5\d\d\b/, fix: (u) => `upstream "${u.name}" answers, but with server errors: see its own log` },
  { reason: /answered 404\b/, fix: (u) => `check that the url of upstream "${u.name}" is the server's root (no /api or /v1 path) and its kind (${u.kind}) is right` },
];

export function fixFor(u: Shown): string | null {
  if (!u.lastError) return null;
  const f = FIXES.find((x) => x.reason.test(u.lastError!));
  return f ? f.fix(u) : null;
}

/** Whether an upstream serves now: only then are its model count and latency figures current, and shown. */
export function serving(u: Pick<UpstreamStatus, "enabled" | "state">): boolean {
  return u.enabled && (u.state === "up" || u.state === "degraded");
}

/** Problems, worst first: down, then degraded, then a low quality on an upstream that is up. */
const PROBLEM_RANK: Record<string, number> = { down: 0, degraded: 1, up: 2 };

function qualityReason(u: Shown): string {
  const m = u.metrics;
  const p95 = m.ttfbMs.p95 ?? m.healthLatencyMs.p95;
  const parts: string[] = [];
  if (m.errors > 0) parts.push(`${m.errors} of ${m.requests} requests failed`);
  if (p95 !== null) parts.push(`p95 time to first byte ${p95 >= 1000 ? `${(p95 / 1000).toFixed(1)} s` : `${Math.round(p95)} ms`}`);
  return parts.join(", ") || "slow or failing requests";
}

/**
 * qualityReason's words without its figures: what a Prometheus label can carry. The figures change with every request,
 * and a label that changes is a new series each scrape (and, in an alert rule on it, an alert resolved and raised again).
 */
function qualityKind(u: Shown): string {
  // A low quality without failures is a slow one (src/broker/quality.ts); with some, either may be why.
  return u.metrics.errors > 0 ? "slow or failing requests" : "slow time to first byte";
}

/** The verdict's reason as a metric label: the same words, but a low quality's without the figures that change per request. */
export function reasonLabel(v: Verdict, upstreams: Shown[]): string {
  const u = v.upstream === null ? undefined : upstreams.find((x) => x.name === v.upstream);
  return u?.state === "up" ? qualityKind(u) : (v.reason ?? "");
}

function make(quality: Quality, level: VerdictLevel, text: string, u: Shown | null = null, reason: string | null = null, fix: string | null = null): Verdict {
  return { quality, level, upstream: u?.name ?? null, reason, fix, text };
}

/**
 * The verdict over the broker's upstreams. The headline quality is the best among enabled upstreams (requests fail
 * over to it), "critical" when none serves; it is "good" at best while an enabled upstream is down or degraded: a
 * part of the setup is broken, and the problem line says which and why. `running` false: the broker is not running.
 */
export function verdict(upstreams: Shown[], running = true): Verdict {
  if (!running) return make("down", "critical", "the broker is not running — see the daemon's log", null, "the broker is not running");
  const on = upstreams.filter((u) => u.enabled);
  if (on.length === 0) return make("critical", "critical", "no upstream is enabled — add an [[upstreams]] entry to the config", null, "no upstream is enabled", "add an [[upstreams]] entry to the config");
  let best: Quality = "critical";
  for (const u of on) if (u.state !== "unknown" && QUALITY_RANK[u.quality] > QUALITY_RANK[best]) best = u.quality;
  const problem =
    on
      .filter((u) => u.state === "down" || u.state === "degraded" || (u.state === "up" && QUALITY_RANK[u.quality] <= QUALITY_RANK.poor))
      .sort((a, b) => PROBLEM_RANK[a.state]! - PROBLEM_RANK[b.state]! || QUALITY_RANK[a.quality] - QUALITY_RANK[b.quality])[0] ?? null;
  if (problem && problem.state !== "up" && QUALITY_RANK[best] > QUALITY_RANK.good) best = "good";
  if (!problem) {
    if (on.every((u) => u.state === "unknown")) return make("critical", "checking", "checking the upstreams…");
    return make(best, "ok", `quality ${best}`);
  }
  const level: VerdictLevel = best === "critical" ? "critical" : "warning";
  if (problem.state === "up") {
    const reason = qualityReason(problem);
    return make(best, level, `${problem.name} quality ${problem.quality}: ${reason}`, problem, reason);
  }
  const reason = problem.lastError ?? (problem.state === "down" ? "not answering" : "its last health check failed");
  const fix = fixFor(problem);
  return make(best, level, `${problem.name} is ${problem.state}: ${reason}${fix ? ` — ${fix}` : ""}`, problem, reason, fix);
}

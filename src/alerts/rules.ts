// The alert rules of `[alerts]`: turns daemon events (and the broker's metrics) into conditions for the alert engine.
import { resolved } from "../config/resolve.ts";
import type { BrokerService, Quality } from "../core/contracts.ts";
import type { DaemonEvent } from "../core/events.ts";
import type { Config } from "../config/schema.ts";
import type { AlertEngine } from "./engine.ts";
import type { Clock } from "../core/clock.ts";
import { fixFor } from "../core/verdict.ts";

export interface RuleSettings {
  upstreamDownMs: number;
  qualityLevel: Exclude<Quality, "down">;
  qualityMs: number;
  errorRate: number;
  errorRateMinRequests: number;
  tunnelDownMs: number;
  tunnelEnabled: boolean;
  window: string;
}

export function ruleSettings(c: Config): RuleSettings {
  const a = resolved(c).alerts;
  return {
    upstreamDownMs: a.upstream_down_after,
    qualityLevel: c.alerts.quality_level,
    qualityMs: a.quality_after,
    errorRate: c.alerts.error_rate,
    errorRateMinRequests: c.alerts.error_rate_min_requests,
    tunnelDownMs: a.tunnel_down_after,
    tunnelEnabled: c.tunnel.enabled,
    window: c.metrics.window,
  };
}

const RANK: Record<Quality, number> = { excellent: 4, good: 3, poor: 2, critical: 1, down: 0 };
/** While an error-rate condition holds, the rate is re-read this often so the alert clears as the window slides. */
export const ERROR_RATE_RECHECK_MS = 10_000;
type TunnelLike = { state: string; relay: string | null; lastError: string | null; lastErrorCode?: string | null; fix?: string | null };
type AuthLike = { state: string; reason?: string | null; refresh?: { tokenExpired: boolean; lastError: string; attempt: number; nextRetryAt: string | null } | null; unstored?: string | null };
const TUNNEL_DOWN = new Set(["connecting", "reconnecting", "failed"]);

export function fmtDuration(ms: number): string {
  // A threshold under a second (tests, impatient configs) would read "down for 0 s".
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ""}`.trim();
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export class AlertRules {
  private rateTimer: unknown = null;

  constructor(
    private readonly engine: AlertEngine,
    private settings: RuleSettings,
    private readonly broker: () => BrokerService | undefined,
    private readonly clock: Clock,
  ) {}

  update(settings: RuleSettings): void {
    this.settings = settings;
    if (!settings.tunnelEnabled) this.engine.ends("tunnel_down", "The tunnel is disabled in the configuration");
  }

  /** Picks up conditions that already hold when alerts start (an upstream down, a sign-in required before we listened). */
  scan(now: { tunnel?: TunnelLike; auth?: AuthLike } = {}): void {
    for (const u of this.broker()?.upstreams() ?? []) {
      if (u.enabled && u.state === "down") this.upstreamDown(u.name, u.lastError ?? undefined);
      // Quality is a verdict on an upstream that answers; one not checked yet gets its verdict from its first check.
      if (u.enabled && (u.state === "up" || u.state === "degraded")) this.quality(u.name, u.quality);
    }
    this.checkErrorRates();
    if (now.tunnel) this.tunnelState(now.tunnel);
    if (now.auth) this.authState(now.auth);
  }

  onEvent(e: DaemonEvent): void {
    switch (e.type) {
      case "upstream.state": {
        const d = e.data;
        if (d.to === "down") this.upstreamDown(d.name, d.reason);
        else if (d.to === "up" || d.to === "degraded")
          this.engine.ends(`upstream_down:${d.name}`, (_, stood) => `Upstream ${d.name} is back up after ${fmtDuration(stood + this.settings.upstreamDownMs)}`);
        // Back up, the outage's failures have left its window (src/broker/health-monitor.ts): re-read the rates now.
        this.checkErrorRates();
        break;
      }
      case "upstream.quality": {
        const d = e.data;
        this.quality(d.name, d.to);
        break;
      }
      case "request.completed":
        this.scheduleRateCheck(1000);
        break;
      case "tunnel.state":
        this.tunnelState(e.data);
        break;
      case "auth.state":
        this.authState(e.data);
        break;
      case "config.rejected": {
        const c = e.data;
        const where = c.line ? `${c.path}:${c.line}:${c.column ?? 1}` : c.path;
        this.engine.holds("config_rejected", {
          rule: "config_rejected",
          subject: "config",
          severity: "warning",
          message: `The config file was rejected (${where}: ${c.field ? `${c.field}: ` : ""}${c.message}); the previous settings stay in effect`,
          afterMs: 0,
        });
        break;
      }
      case "config.reloaded":
        this.engine.ends("config_rejected", "The config file was accepted again");
        break;
    }
  }

  /** The tunnel's state, from its event or read when alerts start (it may have failed before we listened). */
  tunnelState(t: TunnelLike): void {
    if (this.settings.tunnelEnabled && TUNNEL_DOWN.has(t.state))
      this.engine.holds("tunnel_down", {
        rule: "tunnel_down",
        subject: "tunnel",
        severity: "warning",
        message: `The tunnel to ${t.relay ?? "the relay"} has been disconnected for ${fmtDuration(this.settings.tunnelDownMs)}${t.lastError ? `: ${t.lastError}` : ""}`,
        afterMs: this.settings.tunnelDownMs,
      });
    else this.engine.ends("tunnel_down", `The tunnel is ${t.state === "connected" ? "connected again" : t.state.replace("_", " ")}`);
    // A tunnel waiting because the user signed out on purpose is no alert; one waiting after a revoked session is the
    // auth state's login_required alert (same id). Otherwise the relay refused the credential: sign in again.
    if (t.state === "auth_failed" && t.lastErrorCode === "signed_out") this.engine.ends("login_required", "Signed out");
    else if (t.state === "auth_failed") this.loginRequired(t.lastError ?? "the relay refused the token", t.fix);
    else if (t.state === "connected") this.engine.ends("login_required", "Signed in again: the tunnel is connected");
  }

  /** The sign-in state, from its event or read when alerts start (auth starts before alerts). */
  authState(a: AuthLike): void {
    if (a.state === "login_required") this.loginRequired(a.reason ?? "the sign-in expired");
    else if (a.state === "signed_in" || a.state === "disabled") this.engine.ends("login_required", "Signed in again");
    if (a.state === "signed_in" && a.refresh?.tokenExpired)
      this.engine.holds("token_expired", {
        rule: "token_expired",
        subject: "cloud",
        severity: "critical",
        message: `The access token expired before it could be refreshed (attempt ${a.refresh.attempt}: ${a.refresh.lastError}); the tunnel has no valid credential until the issuer answers`,
        afterMs: 0,
        cooldown: false,
      });
    else if (a.state !== "signed_in" || !a.refresh) this.engine.ends("token_expired", a.state === "signed_in" ? "The access token was refreshed" : "The session ended");
    // Signed in, but only this process holds the tokens (the store refused them): the user must hear it while they can
    // still act (unlock the keyring), not find out at the next start.
    if (a.state === "signed_in" && a.unstored)
      this.engine.holds("sign_in_unstored", {
        rule: "sign_in_unstored",
        subject: "cloud",
        severity: "warning",
        message: `Signed in ${a.unstored}`,
        afterMs: 0,
        cooldown: false,
      });
    else this.engine.ends("sign_in_unstored", a.state === "signed_in" ? "The sign-in tokens are stored now" : "The session ended");
  }

  private upstreamDown(name: string, reason?: string): void {
    // The fix the verdict gives for this reason (src/core/verdict.ts), so the notification says what to do too.
    const u = this.broker()?.upstreams().find((x) => x.name === name);
    const fix = u && reason ? fixFor({ ...u, lastError: reason }) : null;
    this.engine.holds(`upstream_down:${name}`, {
      rule: "upstream_down",
      subject: name,
      severity: "critical",
      message: `Upstream ${name} has been down for ${fmtDuration(this.settings.upstreamDownMs)}${reason ? `: ${reason}` : ""}${fix ? ` — ${fix}` : ""}`,
      afterMs: this.settings.upstreamDownMs,
    });
  }

  private quality(name: string, q: Quality): void {
    const id = `quality:${name}`;
    // "down" belongs to the upstream-down rule: one alert per problem.
    if (q !== "down" && RANK[q] <= RANK[this.settings.qualityLevel])
      this.engine.holds(id, {
        rule: "quality",
        subject: name,
        severity: q === "critical" ? "critical" : "warning",
        message: `Upstream ${name} quality is ${q} (for ${fmtDuration(this.settings.qualityMs)})`,
        afterMs: this.settings.qualityMs,
      });
    else this.engine.ends(id, `Upstream ${name} quality recovered (${q})`);
  }

  /** `fix` is the tunnel's own (it knows whether its token came from a sign-in or the secret store); none means sign in. */
  private loginRequired(reason: string, fix?: string | null): void {
    const signIn = !fix || fix.startsWith("sign in");
    this.engine.holds("login_required", {
      rule: "login_required",
      subject: "cloud",
      severity: "critical",
      message: signIn ? `Sign-in required: ${reason}. Run \`cloudtolocalllm-tunnel login\`` : `The tunnel has no accepted credential: ${reason}. Fix: ${fix}`,
      afterMs: 0,
      // It needs the user, it does not flap: a revocation right after the first sign-in cleared it still alerts.
      cooldown: false,
    });
  }

  private scheduleRateCheck(ms: number): void {
    if (this.rateTimer !== null) return;
    this.rateTimer = this.clock.setTimeout(() => {
      this.rateTimer = null;
      this.checkErrorRates();
    }, ms);
  }

  checkErrorRates(): void {
    let holding = false;
    for (const u of this.broker()?.upstreams() ?? []) {
      const id = `error_rate:${u.name}`;
      const m = u.metrics;
      // An upstream that is down (or never answered) fails every request: that is the upstream_down alert's, not a rate.
      const serving = u.state === "up" || u.state === "degraded";
      if (serving && m.requests >= this.settings.errorRateMinRequests && m.errorRate > this.settings.errorRate) {
        holding = true;
        this.engine.holds(id, {
          rule: "error_rate",
          subject: u.name,
          severity: "warning",
          message: `Upstream ${u.name}: ${Math.round(m.errorRate * 100)} % of requests failed over the last ${this.settings.window} (${m.errors} of ${m.requests})`,
          afterMs: 0,
        });
      } else this.engine.ends(id, `Upstream ${u.name}: the error rate is back to ${Math.round(m.errorRate * 100)} %`);
    }
    if (holding) this.scheduleRateCheck(ERROR_RATE_RECHECK_MS);
  }

  stop(): void {
    if (this.rateTimer !== null) this.clock.clearTimeout(this.rateTimer);
    this.rateTimer = null;
  }
}

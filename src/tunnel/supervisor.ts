// Owns reconnection: exponential backoff with jitter, retryable vs permanent errors, reset after a stable connection, injectable clock.
import type { TunnelState } from "../core/contracts.ts";
import type { Clock } from "../core/clock.ts";
import { ConnectError, type Connection } from "./connector.ts";

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** 0.2 = each delay is spread ±20 %. */
  jitter: number;
}

/** The delay before retry number `attempt` (0-based), before jitter. */
export function baseDelay(p: BackoffPolicy, attempt: number): number {
  return Math.min(p.maxMs, p.initialMs * Math.pow(p.multiplier, attempt));
}

export function jittered(p: BackoffPolicy, attempt: number, random: () => number): number {
  const d = baseDelay(p, attempt);
  return Math.max(0, Math.round(d * (1 + p.jitter * (2 * random() - 1))));
}

/** Permanent errors that wait for credentials (a sign-in, a stored token) rather than for a fix of the setup. */
const AUTH_CODES = new Set(["unauthorized", "forbidden", "no_token", "signed_out", "login_required"]);

export interface SupervisorSnapshot {
  state: Exclude<TunnelState, "disabled">;
  attempt: number;
  nextRetryAt: number | null;
  lastError: string | null;
  lastErrorCode: string | null;
  tunnelId: string | null;
  since: number;
  connection: Connection | null;
}

export interface SupervisorOptions {
  /** One attempt (the connector); throws ConnectError or anything else (treated as retryable). */
  connect: () => Promise<Connection>;
  backoff: BackoffPolicy;
  /** A connection that lasted this long resets the backoff to the initial delay. */
  stableMs: number;
  clock: Clock;
  random?: () => number;
  onChange?: (s: SupervisorSnapshot) => void;
}

export class Supervisor {
  private snap: SupervisorSnapshot;
  private timer: unknown = null;
  private generation = 0;
  private readonly random: () => number;

  constructor(private readonly o: SupervisorOptions) {
    this.random = o.random ?? Math.random;
    this.snap = { state: "stopped", attempt: 0, nextRetryAt: null, lastError: null, lastErrorCode: null, tunnelId: null, since: o.clock.now(), connection: null };
  }

  snapshot(): SupervisorSnapshot {
    return { ...this.snap };
  }

  private set(patch: Partial<SupervisorSnapshot>): void {
    const changedState = patch.state !== undefined && patch.state !== this.snap.state;
    this.snap = { ...this.snap, ...patch, ...(changedState ? { since: this.o.clock.now() } : {}) };
    this.o.onChange?.(this.snapshot());
  }

  /** Starts connecting (from stopped or a permanent failure); a no-op while already running. */
  start(): void {
    if (this.snap.state !== "stopped" && this.snap.state !== "auth_failed" && this.snap.state !== "failed") return;
    this.generation++;
    this.set({ attempt: 0, nextRetryAt: null });
    void this.attempt(this.generation);
  }

  /**
   * Stops retrying and closes the live connection: at once, or (`graceMs` > 0, a v2 session) after GO_AWAY, once its
   * in-flight streams finished or the grace period is over. The relay sends no new requests meanwhile.
   */
  async stop(reason = "stopped", graceMs = 0): Promise<void> {
    this.generation++;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    const c = this.snap.connection;
    this.set({ state: "stopped", nextRetryAt: null, connection: null, attempt: 0 });
    if (c?.session && graceMs > 0 && c.session.activeStreams > 0) await c.session.goAway(reason, graceMs);
    c?.close(reason);
  }

  restart(reason = "restarting"): void {
    void this.stop(reason);
    this.start();
  }

  private async attempt(gen: number): Promise<void> {
    if (gen !== this.generation) return;
    this.timer = null;
    this.set({ state: this.snap.attempt === 0 && !this.snap.lastError ? "connecting" : "reconnecting", nextRetryAt: null });
    let conn: Connection;
    try {
      conn = await this.o.connect();
    } catch (e) {
      if (gen !== this.generation) return;
      const err = e instanceof ConnectError ? e : new ConnectError("network", e instanceof Error ? e.message : String(e), false);
      if (err.permanent) {
        this.set({ state: AUTH_CODES.has(err.code) ? "auth_failed" : "failed", lastError: err.message, lastErrorCode: err.code, nextRetryAt: null });
        return;
      }
      this.set({ lastError: err.message, lastErrorCode: err.code });
      this.scheduleRetry(gen);
      return;
    }
    if (gen !== this.generation) {
      conn.close("superseded");
      return;
    }
    const connectedAt = this.o.clock.now();
    this.set({ state: "connected", connection: conn, tunnelId: conn.tunnelId, nextRetryAt: null });
    const info = await conn.closed;
    if (gen !== this.generation) return;
    const lasted = this.o.clock.now() - connectedAt;
    const message = `connection lost (${info.code}: ${info.reason})`;
    if (info.code === "unauthorized" || info.code === "incompatible_version") {
      this.set({ state: info.code === "unauthorized" ? "auth_failed" : "failed", connection: null, lastError: message, lastErrorCode: info.code });
      return;
    }
    // A connection that held long enough proves the relay is fine: start the backoff over.
    this.set({ connection: null, lastError: message, lastErrorCode: info.code, attempt: lasted >= this.o.stableMs ? 0 : this.snap.attempt });
    // The relay asked us to go (its GO_AWAY: an expiring token, a shutdown, a hand-over): make before break, at once;
    // should that fail, the backoff takes over. Not after a connection that barely lived (no tight loop).
    if (info.remote && info.code === "normal" && lasted >= 1000) void this.attempt(gen);
    else this.scheduleRetry(gen);
  }

  private scheduleRetry(gen: number): void {
    const delay = jittered(this.o.backoff, this.snap.attempt, this.random);
    this.set({ state: "reconnecting", attempt: this.snap.attempt + 1, nextRetryAt: this.o.clock.now() + delay });
    this.timer = this.o.clock.setTimeout(() => void this.attempt(gen), delay);
  }
}

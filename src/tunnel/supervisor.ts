// Owns reconnection: exponential backoff with jitter, retryable vs permanent errors, reset after a stable connection,
// planned moves (the relay's GO_AWAY) reconnected at once and not counted, standing down when another agent keeps
// taking the tunnel over (displacement.ts), injectable clock.
import type { TunnelState } from "../core/contracts.ts";
import { elapsedSince, instant, type Clock, type Instant } from "../core/clock.ts";
import type { SessionCloseInfo } from "../protocol/session.ts";
import { ConnectError, type Connection } from "./connector.ts";
import { DISPLACED_CODE, DISPLACED_MESSAGE, Replacements } from "./displacement.ts";

/**
 * What the tunnel's status shows as `lastErrorCode`: why an attempt failed (ConnectError) or how a session ended (a
 * GO_AWAY code, the transport closing), or that another agent took the tunnel over. Stable, so docs/errors.md lists
 * each (tests/foundation/error-codes.test.ts).
 */
export type TunnelErrorCode = ConnectError["code"] | SessionCloseInfo["code"] | typeof DISPLACED_CODE;

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
/** Why a tunnel cannot get in until the user acts (a refused or missing token): the state is auth_failed, not failed. */
export const AUTH_CODES: ReadonlySet<string> = new Set(["unauthorized", "forbidden", "no_token", "signed_out", "login_required"]);

export interface SupervisorSnapshot {
  state: Exclude<TunnelState, "disabled">;
  attempt: number;
  nextRetryAt: number | null;
  lastError: string | null;
  lastErrorCode: TunnelErrorCode | null;
  tunnelId: string | null;
  since: number;
  connection: Connection | null;
  /** A planned move is under way: the relay sent GO_AWAY and a new connection is being made (not a failure). */
  moving: boolean;
}

/** During a planned move a refused attempt (the balancer still sent us to the node going away) is tried again this soon. */
export const MOVE_RETRY_MS = 200;
/** A planned move that has not reconnected within this long falls back to the ordinary, counted backoff. */
export const MOVE_WINDOW_MS = 10_000;
/** A GO_AWAY on a connection younger than this is counted like a failure: a relay sending every agent away at once, again and again, must not be met with a reconnect storm. */
export const MIN_MOVE_UPTIME_MS = 1_000;
/**
 * Planned moves allowed at once within MOVES_WINDOW_MS: a relay that sends the agent away every second or two (a
 * draining node the balancer keeps choosing, a relay bug) would otherwise get a reconnect a second forever. Past this,
 * a GO_AWAY counts as a failure and the backoff decides.
 */
export const MAX_QUICK_MOVES = 5;
export const MOVES_WINDOW_MS = 60_000;

export interface SupervisorOptions {
  /** One attempt (the connector); throws ConnectError or anything else (treated as retryable). */
  /** One attempt; `signal` aborts when the supervisor is stopped meanwhile (a reload that changed [tunnel]). */
  connect: (signal: AbortSignal) => Promise<Connection>;
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
  /** Resets the backoff once the live connection has been up for stableMs. */
  private stableTimer: unknown = null;
  /**
   * When the planned move under way began (null: none). Spans are measured on both clocks (elapsedSince), never on the
   * wall clock alone: one set back an hour would keep a failing move's 200 ms retries going for that hour.
   */
  private moveStartedAt: Instant | null = null;
  /** When the recent planned moves happened (MOVES_WINDOW_MS), oldest first. */
  private recentMoves: Instant[] = [];
  /** Connections the relay sent away, still finishing their in-flight streams (make before break). */
  private readonly draining = new Set<Connection>();
  /** Live sessions the relay closed with `replaced` lately: a second agent on the same token. */
  private readonly replacements: Replacements;
  /** The attempt under way: stop() calls it off, so a handshake with a relay no longer configured is not left hanging. */
  private attempting: AbortController | null = null;

  constructor(private readonly o: SupervisorOptions) {
    this.random = o.random ?? Math.random;
    this.replacements = new Replacements(o.clock);
    this.snap = { state: "stopped", attempt: 0, nextRetryAt: null, lastError: null, lastErrorCode: null, tunnelId: null, since: o.clock.now(), connection: null, moving: false };
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
    this.replacements.reset();
    // A fresh start: the error of an earlier run is not this run's (a `tunnel restart` must not report a stale 401).
    this.set({ attempt: 0, nextRetryAt: null, lastError: null, lastErrorCode: null });
    void this.attempt(this.generation);
  }

  /**
   * Stops retrying and closes the live connection: at once, or (`graceMs` > 0, a v2 session) after GO_AWAY, once its
   * in-flight streams finished or the grace period is over. The relay sends no new requests meanwhile.
   */
  async stop(reason = "stopped", graceMs = 0): Promise<void> {
    this.generation++;
    this.attempting?.abort();
    this.attempting = null;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    this.clearStableTimer();
    this.moveStartedAt = null;
    const c = this.snap.connection;
    const all = [...(c ? [c] : []), ...this.draining];
    this.draining.clear();
    this.set({ state: "stopped", nextRetryAt: null, connection: null, attempt: 0, moving: false });
    await Promise.all(
      all.map(async (x) => {
        if (x.session && graceMs > 0 && x.session.activeStreams > 0) await x.session.goAway(reason, graceMs);
        x.close(reason);
      }),
    );
  }

  restart(reason = "restarting"): void {
    void this.stop(reason);
    this.start();
  }

  private async attempt(gen: number): Promise<void> {
    if (gen !== this.generation) return;
    this.timer = null;
    this.set({ state: this.snap.attempt === 0 && !this.snap.lastError && !this.snap.moving ? "connecting" : "reconnecting", nextRetryAt: null });
    let conn: Connection;
    const attempting = (this.attempting = new AbortController());
    try {
      conn = await this.o.connect(attempting.signal);
    } catch (e) {
      if (gen !== this.generation) return;
      const err = e instanceof ConnectError ? e : new ConnectError("network", e instanceof Error ? e.message : String(e), false);
      if (err.permanent) {
        this.moveStartedAt = null;
        this.set({ state: AUTH_CODES.has(err.code) ? "auth_failed" : "failed", lastError: err.message, lastErrorCode: err.code, nextRetryAt: null, moving: false });
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
    const connectedAt = instant(this.o.clock);
    this.moveStartedAt = null;
    this.set({ state: "connected", connection: conn, tunnelId: conn.tunnelId, nextRetryAt: null, moving: false });
    // Up long enough proves the relay is fine: the next failure, even hours later, starts at the first delay again.
    this.stableTimer = this.o.clock.setTimeout(() => {
      this.stableTimer = null;
      if (gen === this.generation && this.snap.connection === conn && this.snap.attempt !== 0) this.set({ attempt: 0 });
    }, this.o.stableMs);
    const info = await conn.closed;
    if (gen !== this.generation) return;
    this.clearStableTimer();
    const lasted = elapsedSince(this.o.clock, connectedAt);
    const message = `connection lost (${info.code}: ${info.reason})`;
    if (info.code === "unauthorized" || info.code === "incompatible_version") {
      this.set({ state: info.code === "unauthorized" ? "auth_failed" : "failed", connection: null, lastError: message, lastErrorCode: info.code });
      return;
    }
    // Newest wins at the relay: the loser of a fight stands down (a permanent failure) instead of taking the tunnel back.
    if (info.code === "replaced" && this.replacements.record()) {
      this.set({ state: "failed", connection: null, lastError: DISPLACED_MESSAGE, lastErrorCode: DISPLACED_CODE, nextRetryAt: null, moving: false });
      return;
    }
    const attempt = lasted >= this.o.stableMs ? 0 : this.snap.attempt;
    while (this.recentMoves.length && elapsedSince(this.o.clock, this.recentMoves[0]!) >= MOVES_WINDOW_MS) this.recentMoves.shift();
    if (info.moving && lasted >= MIN_MOVE_UPTIME_MS && this.recentMoves.length < MAX_QUICK_MOVES) {
      this.recentMoves.push(instant(this.o.clock));
      // A planned move (the relay node is stopping or handing its agents over): connect again now, through the same
      // address (the balancer picks a node that is up), while the old connection finishes its in-flight streams.
      for (const d of this.draining) if (!d.session || d.session.closed) this.draining.delete(d);
      this.draining.add(conn);
      this.moveStartedAt = instant(this.o.clock);
      this.set({ state: "reconnecting", connection: null, lastError: `the relay moved this tunnel (${info.reason})`, lastErrorCode: info.code, attempt, moving: true, nextRetryAt: null });
      void this.attempt(gen);
      return;
    }
    this.set({ connection: null, lastError: message, lastErrorCode: info.code, attempt, moving: false });
    this.scheduleRetry(gen);
  }

  private clearStableTimer(): void {
    if (this.stableTimer !== null) this.o.clock.clearTimeout(this.stableTimer);
    this.stableTimer = null;
  }

  private scheduleRetry(gen: number): void {
    const now = this.o.clock.now();
    if (this.moveStartedAt !== null && elapsedSince(this.o.clock, this.moveStartedAt) < MOVE_WINDOW_MS) {
      // Still a planned move: the balancer may not have taken the stopping node out yet. Soon again, not counted.
      const delay = jittered({ ...this.o.backoff, initialMs: Math.min(MOVE_RETRY_MS, this.o.backoff.initialMs) }, 0, this.random);
      this.set({ state: "reconnecting", nextRetryAt: now + delay });
      this.timer = this.o.clock.setTimeout(() => void this.attempt(gen), delay);
      return;
    }
    this.moveStartedAt = null;
    const delay = jittered(this.o.backoff, this.snap.attempt, this.random);
    this.set({ state: "reconnecting", attempt: this.snap.attempt + 1, nextRetryAt: now + delay, moving: false });
    this.timer = this.o.clock.setTimeout(() => void this.attempt(gen), delay);
  }
}

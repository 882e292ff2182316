// The alert state machine: conditions observed true/false, raised after their delay, cleared with a recovery message, with cooldown.
import type { Alert, AlertSeverity } from "../core/contracts.ts";
// The same injectable clock as the tunnel's supervisor, so unit tests never sleep.
import { elapsedSince, instant, realClock, type Clock, type Instant } from "../core/clock.ts";

export interface ConditionSpec {
  rule: string;
  subject: string;
  severity: AlertSeverity;
  /** Message when raised. */
  message: string;
  /** The condition must hold this long before the alert is raised. */
  afterMs: number;
  /** false: raised again at once after a clear (a condition that needs the user, not one that flaps). Default true. */
  cooldown?: boolean;
}

/**
 * Spans are never measured on the wall clock alone: one set back an hour would hold every alert back for that hour (a
 * tunnel down for minutes raised nothing) and say an upstream was down for a negative time. A condition's delay is
 * time the daemon was awake to see it hold (the monotonic clock, which a laptop's sleep does not move): a condition
 * that held when the lid closed is not raised on waking, before the first health check and reconnect had their
 * chance. A cooldown and how long an alert stood are the user's time: on both clocks, the longer counting.
 */
interface Condition {
  spec: ConditionSpec;
  /** When the condition became true (monotonic ms); null while it does not hold. */
  since: number | null;
  raised: Alert | null;
  /** When the raised alert was raised (for how long it stood). */
  raisedAt: Instant | null;
  /** The cooldown after the last clear: from when, how long. */
  cooldown: { from: Instant; ms: number } | null;
}

export type AlertSink = (type: "alert.raised" | "alert.cleared", alert: Alert) => void;

export class AlertEngine {
  private conditions = new Map<string, Condition>();
  private timer: unknown = null;
  private timerAt = Infinity;

  constructor(
    private readonly emit: AlertSink,
    private cooldownMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  setCooldown(ms: number): void {
    this.cooldownMs = ms;
  }

  /** The condition `id` holds now (repeated calls while it holds only refresh the message). */
  holds(id: string, spec: ConditionSpec): void {
    let c = this.conditions.get(id);
    if (!c) this.conditions.set(id, (c = { spec, since: null, raised: null, raisedAt: null, cooldown: null }));
    c.spec = spec;
    if (c.since === null) c.since = this.monotonic();
    this.evaluate();
  }

  /**
   * The condition `id` no longer holds: a raised alert is cleared with `recovery` (given the alert and how long it
   * stood, in ms) and its cooldown starts.
   */
  ends(id: string, recovery: string | ((a: Alert, stoodMs: number) => string)): void {
    const c = this.conditions.get(id);
    if (!c || c.since === null) return;
    c.since = null;
    if (c.raised) {
      const stood = c.raisedAt ? elapsedSince(this.clock, c.raisedAt) : 0;
      const cleared: Alert = { ...c.raised, message: typeof recovery === "function" ? recovery(c.raised, stood) : recovery, clearedAt: new Date(this.clock.now()).toISOString() };
      c.raised = null;
      c.raisedAt = null;
      c.cooldown = { from: instant(this.clock), ms: this.cooldownMs };
      this.emit("alert.cleared", cleared);
    }
    this.evaluate();
  }

  active(): Alert[] {
    return [...this.conditions.values()].flatMap((c) => (c.raised ? [c.raised] : []));
  }

  private monotonic(): number {
    return this.clock.monotonic?.() ?? this.clock.now();
  }

  /** Raises what is due and arms one timer for the next due condition; no timer when nothing is pending. */
  private evaluate(): void {
    const now = this.monotonic();
    let next = Infinity;
    for (const [id, c] of this.conditions) {
      if (c.since === null || c.raised) continue;
      const cooling = c.spec.cooldown === false || !c.cooldown ? 0 : c.cooldown.ms - elapsedSince(this.clock, c.cooldown.from);
      const wait = Math.max(c.since + c.spec.afterMs - now, cooling);
      if (wait <= 0) {
        c.raised = { id, rule: c.spec.rule, severity: c.spec.severity, subject: c.spec.subject, message: c.spec.message, raisedAt: new Date(this.clock.now()).toISOString() };
        c.raisedAt = instant(this.clock);
        this.emit("alert.raised", c.raised);
      } else next = Math.min(next, now + wait);
    }
    if (next === this.timerAt) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = next;
    if (next !== Infinity) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.timerAt = Infinity;
        this.evaluate();
      }, next - now);
    }
  }

  /** True while a timer is armed (tests check that nothing ticks when nothing is pending). */
  pending(): boolean {
    return this.timer !== null;
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }
}

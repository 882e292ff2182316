// The alert state machine: conditions observed true/false, raised after their delay, cleared with a recovery message, with cooldown.
import type { Alert, AlertSeverity } from "../core/contracts.ts";
// The same injectable clock as the tunnel's supervisor, so unit tests never sleep.
import { realClock, type Clock } from "../core/clock.ts";

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

interface Condition {
  spec: ConditionSpec;
  /** When the condition became true; null while it does not hold. */
  since: number | null;
  raised: Alert | null;
  cooldownUntil: number;
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
    if (!c) this.conditions.set(id, (c = { spec, since: null, raised: null, cooldownUntil: 0 }));
    c.spec = spec;
    if (c.since === null) c.since = this.clock.now();
    this.evaluate();
  }

  /** The condition `id` no longer holds: a raised alert is cleared with `recovery` and its cooldown starts. */
  ends(id: string, recovery: string | ((a: Alert) => string)): void {
    const c = this.conditions.get(id);
    if (!c || c.since === null) return;
    c.since = null;
    if (c.raised) {
      const cleared: Alert = { ...c.raised, message: typeof recovery === "function" ? recovery(c.raised) : recovery, clearedAt: new Date(this.clock.now()).toISOString() };
      c.raised = null;
      c.cooldownUntil = this.clock.now() + this.cooldownMs;
      this.emit("alert.cleared", cleared);
    }
    this.evaluate();
  }

  active(): Alert[] {
    return [...this.conditions.values()].flatMap((c) => (c.raised ? [c.raised] : []));
  }

  /** Raises what is due and arms one timer for the next due condition; no timer when nothing is pending. */
  private evaluate(): void {
    const now = this.clock.now();
    let next = Infinity;
    for (const [id, c] of this.conditions) {
      if (c.since === null || c.raised) continue;
      const due = Math.max(c.since + c.spec.afterMs, c.spec.cooldown === false ? 0 : c.cooldownUntil);
      if (due <= now) {
        c.raised = { id, rule: c.spec.rule, severity: c.spec.severity, subject: c.spec.subject, message: c.spec.message, raisedAt: new Date(now).toISOString() };
        this.emit("alert.raised", c.raised);
      } else next = Math.min(next, due);
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

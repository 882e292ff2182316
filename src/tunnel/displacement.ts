// Owns telling two agents fighting over one tunnel token from a one-off `replaced`, and what a displaced agent says.
import { elapsedSince, instant, type Clock, type Instant } from "../core/clock.ts";

/**
 * A live session closed with `replaced` this many times within DISPLACED_WINDOW_MS means another agent holds the same
 * token: the relay lets the newest connection win, so two agents would replace each other at the backoff rate forever,
 * cutting every stream on both. A lone agent is replaced at most once per event (its lease moved to another relay node,
 * docs/relay-cluster.md; its own reconnect superseded a connection the relay had not seen die), and such events are
 * minutes to hours apart: one replacement is reconnected as before, the second within the window stops the agent.
 */
export const DISPLACED_AFTER = 2;
/**
 * Long enough to catch a fight at any backoff: the fighting agents' replacements come one backoff delay of each apart
 * (seconds at first, at most twice [tunnel.backoff] max, 60 s by default); short enough that two unrelated lease moves
 * on a long-running agent do not add up.
 */
export const DISPLACED_WINDOW_MS = 5 * 60_000;

/** The tunnel's lastErrorCode while it stands down (its state is `failed`: no retrying until the user acts). */
export const DISPLACED_CODE = "displaced";
export const DISPLACED_MESSAGE =
  "another agent connected with this tunnel's token and took the tunnel over (the newest connection wins); this agent stopped reconnecting so the two do not keep cutting each other off";
export const DISPLACED_FIX = "stop the agent on the other machine, or take the tunnel back here: `cloudtolocalllm-tunnel tunnel restart`";

/** The recent replacements of one agent's sessions; `record` says whether they now make a fight. */
export class Replacements {
  /**
   * On both clocks (elapsedSince): on the wall clock alone, one set back an hour would keep a replacement "recent" for
   * that hour and make the next lone one a fight; on the monotonic clock alone, a laptop's night asleep (which it does
   * not count) would make the replacements before and after the sleep look seconds apart.
   */
  private times: Instant[] = [];

  constructor(private readonly clock: Clock) {}

  /** One live session closed with `replaced` now: true when the agent should stand down. */
  record(): boolean {
    this.times = this.times.filter((t) => elapsedSince(this.clock, t) < DISPLACED_WINDOW_MS);
    this.times.push(instant(this.clock));
    return this.times.length >= DISPLACED_AFTER;
  }

  /** A start by the user (reconnect, restart, reload) is a decision to take the tunnel: the count starts over. */
  reset(): void {
    this.times = [];
  }
}

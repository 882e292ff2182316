// How much credit a session's receiver grants each stream: twice the bandwidth-delay product it measures (the delivery rate of received DATA × the smallest round trip of its probe PINGs), within bounds.
import { INITIAL_WINDOW } from "./messages.ts";

/** Smallest window: a few frames' worth, so a slow link never stalls a stream on one round trip per frame. */
export const MIN_WINDOW = 16 * 1024;
/**
 * Largest window: the protocol's initial one. A receiver only withholds credit and gives withheld credit back, so the
 * WINDOW_UPDATE increments of a stream never add up to more than the bytes its reader consumed: credit returned stays
 * an acknowledgement of bytes delivered (what a resumable answer may forget, docs/protocol.md "Resume"), and memory
 * stays bounded by streams × 512 KiB as before.
 */
export const MAX_WINDOW = INITIAL_WINDOW;
/**
 * Round trips shorter than this count as this: on loopback the "delay" is the two event loops' turns, which a window
 * sized to a 0.1 ms ping would starve (a 200 MB/s stream needs its credit back within one turn).
 */
const RTT_FLOOR_MS = 2;
/** Delivery-rate samples are remembered this long: the window follows the link, not one quiet moment. */
const RATE_MEMORY_MS = 3000;
/**
 * Each rate sample is the bytes received over at least this long: a shaped link delivers in bursts (a token bucket's
 * burst at the wire's speed), and a sample over a burst would take it for the link's rate.
 */
const RATE_BIN_MS = 50;
/** At most one probe in flight, and no more often than this while DATA flows (ten a second per busy session at most). */
const PROBE_INTERVAL_MS = 100;

/**
 * Probe PINGs carry a negative opaque value (−1 − the prober's performance.now()): every peer echoes a PING's opaque
 * bytes unchanged in its PONG, so an older peer answers probes too, and heartbeat PINGs (non-negative) stay apart.
 */
export function probeOpaque(sentAt: number): number {
  return -1 - sentAt;
}
/** The send time of a probe PONG's opaque value, or null for a heartbeat's. */
export function probeSentAt(opaque: number): number | null {
  return opaque < 0 ? -1 - opaque : null;
}

export class WindowSizer {
  /** The window each stream's receiver grants now; the protocol's initial window until a measurement exists. */
  target = INITIAL_WINDOW;
  /** Smallest probe round trip seen (the link's delay without our own queue), ms. */
  minRttMs = Infinity;
  private binStart = -1;
  private binBytes = 0;
  private outstanding: { sentAt: number } | null = null;
  private lastProbe = -Infinity;
  private rates: { at: number; bytesPerMs: number }[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Whether `target` comes from a measurement yet (a rate and a round trip), not the initial window. */
  get measured(): boolean {
    return this.rates.length > 0 && this.minRttMs !== Infinity;
  }

  /** Counts received DATA bytes; returns the opaque value of a probe PING to send now, or null. */
  onData(n: number): number | null {
    const t = this.now();
    if (this.binStart < 0) this.binStart = t;
    this.binBytes += n;
    if (t - this.binStart >= RATE_BIN_MS) {
      this.addRate(this.binBytes / (t - this.binStart), t);
      this.binStart = t;
      this.binBytes = 0;
    }
    // The time read once per frame (this runs for every DATA frame received).
    return this.outstanding || t - this.lastProbe < PROBE_INTERVAL_MS ? null : this.probeAt(t);
  }

  /** A probe to send regardless of traffic (the session's start: the idle round trip), or null while one is in flight. */
  probe(): number | null {
    return this.outstanding ? null : this.probeAt(this.now());
  }

  private probeAt(t: number): number {
    this.lastProbe = t;
    this.outstanding = { sentAt: t };
    return probeOpaque(t);
  }

  /** A probe came back: one round-trip sample. Returns the round trip, ms (null for a stale or foreign one). */
  onProbeAnswered(sentAt: number): number | null {
    const p = this.outstanding;
    if (!p || p.sentAt !== sentAt) return null;
    this.outstanding = null;
    const rtt = Math.max(0.001, this.now() - sentAt);
    if (rtt < this.minRttMs) {
      this.minRttMs = rtt;
      this.resize();
    }
    return rtt;
  }

  private addRate(bytesPerMs: number, t: number): void {
    this.rates.push({ at: t, bytesPerMs });
    while (this.rates.length > 1 && t - this.rates[0]!.at > RATE_MEMORY_MS) this.rates.shift();
    this.resize();
  }

  /** Twice rate × delay, once both are known; before that, the initial window. */
  private resize(): void {
    if (!this.rates.length || this.minRttMs === Infinity) return;
    let max = 0;
    for (const r of this.rates) if (r.bytesPerMs > max) max = r.bytesPerMs;
    const bdp = max * Math.max(RTT_FLOOR_MS, this.minRttMs);
    this.target = Math.round(Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, 2 * bdp)));
  }
}

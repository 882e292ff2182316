// The answers agents offered to resume on this node (RESUME), by tunnel and token, and the claims that take them over
// (RESUMED on a new stream). An offer counts only for the tunnel whose agent made it: a token is no key to another tunnel.
import type { Session } from "../protocol/session.ts";
import type { Stream } from "../protocol/stream.ts";

/** Offers kept per tunnel at most (far more answers than a tunnel may have in flight). */
export const MAX_OFFERS_PER_TUNNEL = 1024;

interface Offer {
  session: Session;
  at: number;
  /** Body bytes the agent had sent (its RESUME says; an older agent does not). */
  sent?: number;
}

/** Bytes a claimed stream sends again, by the agent's count (sent − offset), when its offer named what it had sent. */
const replayedBy = new WeakMap<Stream, number>();

/** The bytes the agent sends again on `s` (a stream claim() returned), or undefined when its offer did not say. */
export function agentReplayed(s: Stream): number | undefined {
  return replayedBy.get(s);
}

export class ResumeOffers {
  private readonly byTunnel = new Map<string, Map<string, Offer>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Tokens of the answers this node's clients are being sent (by tunnel): the only offers a relay alone can use. */
  private readonly expected = new Map<string, Set<string>>();

  /** `windowMs`: how long an offer is kept (the agent offers again on each new session). */
  constructor(private readonly windowMs: number) {}

  /** A client here is being sent the answer of `tunnel` under `token`; the returned function says it is over. */
  expect(tunnel: string, token: string): () => void {
    let set = this.expected.get(tunnel);
    if (!set) this.expected.set(tunnel, (set = new Set()));
    set.add(token);
    return () => {
      const s = this.expected.get(tunnel);
      s?.delete(token);
      if (s && !s.size) this.expected.delete(tunnel);
    };
  }

  /** Whether a client here waits for the answer of `tunnel` under `token`. */
  expects(tunnel: string, token: string): boolean {
    return this.expected.get(tunnel)?.has(token) ?? false;
  }

  /** The agent of `tunnel`, on `session`, offers the answer it holds under `token`, of which it had sent `sent` bytes. */
  offer(tunnel: string, token: string, session: Session, sent?: number): void {
    let m = this.byTunnel.get(tunnel);
    if (!m) this.byTunnel.set(tunnel, (m = new Map()));
    const now = performance.now();
    for (const [t, o] of m) if (now - o.at > this.windowMs || o.session.closed) m.delete(t);
    // Bounded: an agent offering token after token (a cluster node files every offer) pushes out its oldest.
    if (m.size >= MAX_OFFERS_PER_TUNNEL) m.delete(m.keys().next().value!);
    m.set(token, { session, at: now, sent });
    for (const w of [...(this.waiters.get(tunnel) ?? [])]) w();
  }

  /**
   * Takes over the answer `tunnel`'s agent offered under `token`, from body byte `offset`: a new stream on the session
   * it was offered on. Waits up to `waitMs` for the offer; null when none came (or the claim was abandoned).
   */
  async claim(tunnel: string, token: string, offset: number, waitMs: number, signal?: AbortSignal): Promise<Stream | null> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      const s = this.take(tunnel, token, offset);
      if (s) return s;
      const left = deadline - performance.now();
      if (left <= 0 || signal?.aborted) return null;
      await this.next(tunnel, left, signal);
    }
  }

  private take(tunnel: string, token: string, offset: number): Stream | null {
    const m = this.byTunnel.get(tunnel);
    const o = m?.get(token);
    if (!m || !o) return null;
    m.delete(token);
    if (!m.size) this.byTunnel.delete(tunnel);
    if (o.session.closed || performance.now() - o.at > this.windowMs) return null;
    try {
      const s = o.session.resumeStream(token, offset);
      // The request went whole with the first stream; this one only carries the rest of the answer.
      s.end();
      if (o.sent !== undefined) replayedBy.set(s, Math.max(0, o.sent - offset));
      return s;
    } catch {
      return null;
    }
  }

  /** Resolves on the tunnel's next offer, after `ms`, or on abort. */
  private next(tunnel: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(tunnel);
      if (!set) this.waiters.set(tunnel, (set = new Set()));
      const s = set;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        s.delete(done);
        if (!s.size && this.waiters.get(tunnel) === s) this.waiters.delete(tunnel);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      s.add(done);
    });
  }
}

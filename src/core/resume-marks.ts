// Which tunnel requests were taken over on a new relay connection after theirs was lost: the agent's held answers write
// the mark (keyed by the request's signal, which is the held answer's own), the broker's request record carries it by
// reference, so the dashboard's inspector shows a resume that came after the record was made.

export interface ResumeMark {
  /** Times the relay took the answer over on a new connection. */
  count: number;
  /** Body bytes sent again because the relay had not received them. */
  replayedBytes: number;
}

const marks = new WeakMap<AbortSignal, ResumeMark>();

/** The mark of the request whose signal is `signal`, made on first use (a held answer makes it when it is held). */
export function resumeMarkFor(signal: AbortSignal): ResumeMark {
  let m = marks.get(signal);
  if (!m) marks.set(signal, (m = { count: 0, replayedBytes: 0 }));
  return m;
}

/** The mark of a request, if it was held for resume. */
export function resumeMarkOf(signal: AbortSignal | null): ResumeMark | undefined {
  return signal ? marks.get(signal) : undefined;
}

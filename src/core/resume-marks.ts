// Which tunnel requests were taken over on a new relay connection after theirs was lost: the agent's held answers write
// the mark (keyed by the request's signal, which is the held answer's own), the broker's request record carries it by
// reference, so the dashboard's inspector shows a resume that came after the record was made; a record already sent to
// the page (the upstream finished while the relay was away) is followed by a request.resumed event (noteResumed).

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

/** Who hears of a mark's later resumes: the request's record, once made (the daemon tells the page). */
const followers = new WeakMap<ResumeMark, () => void>();

/** Counts one resume on `mark` and tells its follower, if any. */
export function noteResumed(mark: ResumeMark, replayedBytes: number): void {
  mark.count++;
  mark.replayedBytes += replayedBytes;
  followers.get(mark)?.();
}

/** Calls `then` on each later resume of `mark` (one follower per mark: the record made for its request). */
export function followResumes(mark: ResumeMark, then: () => void): void {
  followers.set(mark, then);
}

/** The mark of a request, if it was held for resume. */
export function resumeMarkOf(signal: AbortSignal | null): ResumeMark | undefined {
  return signal ? marks.get(signal) : undefined;
}

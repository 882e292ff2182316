// A deadline counted in this process's own time. A process that got no CPU for longer than the wait (a loaded machine,
// a long GC pause, SIGSTOP) runs its expired timers before it has read its sockets, so an answer that came in time
// would be taken for none: a timer that fires late by more than a quarter of the wait starts the wait again, once; a
// timer on time still gives the answer one more turn of the event loop (a zero timer runs after the socket's read).
// Used wherever a late answer decides something about a peer: the Redis link (redis-link.ts), the probe of another
// node (node-probe.ts).

/** Calls `expired` once `ms` of this process's own time passed (see above); the returned function cancels it. */
export function ownTimeDeadline(ms: number, expired: () => void): () => void {
  let due = performance.now() + ms;
  let stalled = false;
  const fire = () => {
    const now = performance.now();
    if (!stalled && now - due > ms / 4) {
      stalled = true;
      due = now + ms;
      t = setTimeout(fire, ms);
    } else t = setTimeout(expired, 0);
  };
  let t: ReturnType<typeof setTimeout> = setTimeout(fire, ms);
  return () => clearTimeout(t);
}

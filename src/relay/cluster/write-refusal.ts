// Which Redis error replies mean "this Redis refuses the cluster's writes" (out of memory under noeviction, a
// read-only replica, too few replicas, a failed snapshot, lost permissions) rather than a bug of ours: a node that
// cannot write cannot keep its heartbeat, leases or the shared limits, so it degrades as if Redis were unreachable.

/** The reply's leading error code and what it means for an operator. */
const REFUSALS: Record<string, string> = {
  OOM: "Redis is out of memory (maxmemory with a noeviction policy)",
  READONLY: "Redis is a read-only replica",
  NOREPLICAS: "Redis has fewer replicas than min-replicas-to-write",
  MISCONF: "Redis cannot persist to disk and stopped accepting writes (stop-writes-on-bgsave-error)",
  NOPERM: "Redis's ACL user lacks a permission the nodes need",
};

/** Why Redis refused a write, for the log and /readyz; null when the error is not such a refusal. */
export function writeRefusal(e: unknown): string | null {
  const message = e instanceof Error ? e.message : String(e);
  // A command a script runs that the ACL user may not run is refused as "ERR The user executing the script can't run
  // this command": no NOPERM code, the same refusal.
  const code = /^ERR The user executing the script can't run this command/.test(message) ? "NOPERM" : (/^(?:ERR\s+)?([A-Z]+)\b/.exec(message)?.[1] ?? "");
  const why = REFUSALS[code];
  return why ? `${why}: ${message.slice(0, 200)}` : null;
}

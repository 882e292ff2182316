// Addresses of a test's own for the daemon's listeners: the machine's defaults (8765, 11435) may be held by a daemon the
// user runs, or by another test file running in parallel, and doctor or the CLI would then talk to that one.
import { freePort } from "../../bench/lib/proc.ts";

/** A loopback port nothing listens on just now (bench/lib/proc.ts: picked below the ephemeral range). */
export const closedPort = freePort;

/** `[api]` and `[proxy]` listen lines on such ports, for a config that has neither table (doctor reads them, starts nothing). */
export function ownPortsToml(): string {
  return `[api]\nlisten = "127.0.0.1:${closedPort()}"\n[proxy]\nlisten = "127.0.0.1:${closedPort()}"\n`;
}

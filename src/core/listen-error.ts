// The one sentence for a listener that cannot bind its address: which part, which address and setting, and why.
import type { CodeOf } from "./error-codes.ts";

/** A listener could not bind; `field` is the config key that names the address (e.g. "api.listen"). */
export class ListenError extends Error {
  override name = "ListenError";
  readonly code: CodeOf<"ListenError"> = "listen_failed";
  constructor(
    readonly field: string,
    message: string,
    /** The system's error code (EADDRINUSE, EADDRNOTAVAIL, EACCES), when there is one. */
    readonly errno?: string,
  ) {
    super(message);
  }
}

const REASONS: Record<string, (port: string, program: string) => string> = {
  EADDRINUSE: (port, program) => `port ${port} is already in use (by another program, or another copy of ${program})`,
  EADDRNOTAVAIL: () => "that address is not on this machine",
  EACCES: (port) => `permission denied (port ${port} needs privileges)`,
};

/**
 * Wraps what Bun.serve threw for `listen` (the value of `[section] key`, or of a top-level `key`) as a ListenError
 * naming the part and the setting; `program` is what another copy of would hold the port.
 */
export function listenError(what: string, field: string, listen: string, e: unknown, program = "the daemon"): ListenError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const port = listen.slice(listen.lastIndexOf(":") + 1);
  const dot = field.indexOf(".");
  const setting = dot < 0 ? field : `[${field.slice(0, dot)}] ${field.slice(dot + 1)}`;
  const why = (code && REASONS[code]?.(port, program)) ?? (e instanceof Error ? e.message : String(e));
  return new ListenError(field, `${what} cannot listen on ${listen} (${setting}): ${why}`, code);
}

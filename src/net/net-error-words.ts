// The one wording of each network error code (the system's, Bun's, TLS's): what failed, and why, in words an operator can act on.

/** A code's words. Callers pick the form: `what` alone where a short label is kept (status, a /metrics label), `explained` in a diagnosis. */
export interface NetErrorWords {
  /** What failed, short: an upstream's lastError and the broker's error bodies say it alone (core/verdict.ts matches on it). */
  readonly what: string;
  /** Where to look, said beside `what` in a diagnosis (doctor, "cannot reach Redis at HOST:PORT: …"). */
  readonly why?: string;
  /** A certificate that chains to no CA trusted here: the fix is a ca_file (the caller names which one). */
  readonly untrusted?: true;
}

const NOT_TRUSTED = "TLS certificate not trusted";

/** Every network error code worded anywhere: fetch-error.ts, unreachable.ts, cli/doctor-checks.ts, broker/http1-client.ts read it here. */
export const NET_ERROR_WORDS: Readonly<Record<string, NetErrorWords>> = {
  ECONNREFUSED: { what: "connection refused", why: "nothing listens on that port" },
  ECONNRESET: { what: "connection reset" },
  ETIMEDOUT: { what: "connection timed out", why: "nothing answered: a firewall that drops packets, or a host that is off" },
  ENOTFOUND: { what: "host name does not resolve", why: "DNS" },
  EAI_AGAIN: { what: "host name could not be resolved now", why: "DNS" },
  EHOSTUNREACH: { what: "host unreachable", why: "no route to that host" },
  ENETUNREACH: { what: "network unreachable", why: "this machine has no route to that address" },
  EADDRNOTAVAIL: { what: "address not available on this machine" },
  // Bun's own, for a connection it could not open without saying why (a name that does not resolve, or no route).
  FailedToOpenSocket: { what: "host not found or unreachable" },
  CERT_HAS_EXPIRED: { what: "TLS certificate expired" },
  DEPTH_ZERO_SELF_SIGNED_CERT: { what: NOT_TRUSTED, why: "self-signed", untrusted: true },
  SELF_SIGNED_CERT_IN_CHAIN: { what: NOT_TRUSTED, why: "a self-signed CA in its chain", untrusted: true },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { what: NOT_TRUSTED, why: "signed by a CA this machine does not trust", untrusted: true },
  UNABLE_TO_GET_ISSUER_CERT: { what: NOT_TRUSTED, why: "its issuer is not known here", untrusted: true },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { what: NOT_TRUSTED, why: "its issuer is not known here", untrusted: true },
};

/** Bun's names for system codes (its fetch says ConnectionRefused where node:net says ECONNREFUSED). */
export const ALIASES: Readonly<Record<string, string>> = { ConnectionRefused: "ECONNREFUSED" };

/** The words for `code` (a system, Bun or TLS code, as an error's `code` carries it); undefined for one not worded here. */
export function netErrorWords(code: unknown): NetErrorWords | undefined {
  if (typeof code !== "string") return undefined;
  const c = ALIASES[code] ?? code;
  return Object.hasOwn(NET_ERROR_WORDS, c) ? NET_ERROR_WORDS[c] : undefined;
}

/** "what (why)", or `what` alone: the form a diagnosis says. */
export function explained(w: NetErrorWords): string {
  return w.why ? `${w.what} (${w.why})` : w.what;
}

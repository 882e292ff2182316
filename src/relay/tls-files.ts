// The relay's [tls] certificate and key, read before it listens: a file it cannot read is named by its setting
// (tls.cert_file, tls.key_file) at start and by `relay check`, not reported as a listener that failed; `relay check`
// also refuses a pair the relay could not serve (not PEM, a key of another certificate) or a certificate that expired.
import type { RelayConfig } from "./config.ts";

/** The PEM texts of [tls], or undefined without TLS; throws naming the setting whose file cannot be read. */
export async function readRelayTls(c: RelayConfig): Promise<{ cert: string; key: string } | undefined> {
  if (!c.tls.cert_file) return undefined;
  const read = async (field: "cert_file" | "key_file") => {
    try {
      return await Bun.file(c.tls[field]).text();
    } catch (e) {
      throw new Error(`tls.${field}: cannot read ${c.tls[field]}: ${(e as Error).message}`);
    }
  };
  return { cert: await read("cert_file"), key: await read("key_file") };
}

/** The sentence for a certificate and key the relay cannot serve, at start (server.ts) and in `relay check`. */
export function unusableTls(c: RelayConfig, why: string): Error {
  return new Error(`[tls]: ${c.tls.cert_file} and ${c.tls.key_file} are not a usable certificate and key: ${why}`);
}

/**
 * For `relay check` (after a certificate renewal, before a restart): throws what starting would (the pair does not load)
 * or what every agent would refuse (the certificate expired). Loads node:tls, which the relay itself never needs.
 */
export function checkRelayTls(c: RelayConfig, pem: { cert: string; key: string }, now = new Date()): void {
  const tls = require("node:tls") as typeof import("node:tls");
  const { X509Certificate } = require("node:crypto") as typeof import("node:crypto");
  try {
    tls.createSecureContext({ cert: pem.cert, key: pem.key });
  } catch (e) {
    throw unusableTls(c, (e as Error).message);
  }
  const notAfter = new Date(new X509Certificate(pem.cert).validTo);
  if (notAfter < now) throw new Error(`tls.cert_file: the certificate in ${c.tls.cert_file} expired on ${notAfter.toISOString()}: agents and clients refuse it (renew it, then restart the relay)`);
}

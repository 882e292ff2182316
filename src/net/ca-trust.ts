// The CAs trusted for the relay when [tunnel] ca_file is set: Bun's defaults (bundled, system store, NODE_EXTRA_CA_CERTS) plus the file.
import { readFileSync } from "node:fs";
import type * as Tls from "node:tls";

/**
 * Bun's `tls: { ca }` REPLACES its default trust, so a private CA given alone would drop the system store (a relay
 * signed by a CA installed there, or by a public CA, would fail). These are the stores Bun trusts when no `ca` is given:
 * its bundled Mozilla roots, the system store (OpenSSL's paths; SSL_CERT_FILE / SSL_CERT_DIR move it) and
 * NODE_EXTRA_CA_CERTS.
 */
const DEFAULT_STORES = ["bundled", "system", "extra"] as const;

type GetCa = (store: (typeof DEFAULT_STORES)[number]) => string[];

function defaultCas(): string[] {
  // Required here, not imported: node:tls (and node:net and node:stream under it) costs an idle daemon MiBs, and only
  // a tunnel with ca_file asks.
  const tls = require("node:tls") as typeof Tls;
  const get = (tls as unknown as { getCACertificates?: GetCa }).getCACertificates;
  // Without getCACertificates (an older runtime) only the bundled roots can be named; the system store is then lost.
  if (!get) return [...tls.rootCertificates];
  const all = new Set<string>();
  for (const store of DEFAULT_STORES) {
    try {
      for (const c of get(store)) all.add(c);
    } catch {
      // An unreadable store (e.g. a broken NODE_EXTRA_CA_CERTS) is skipped, as Bun's own default trust does.
    }
  }
  return [...all];
}

/** Thrown when ca_file cannot be read; the caller maps it to its own error. */
export class CaFileError extends Error {
  override name = "CaFileError";
  /** Its stable code (src/core/error-codes.ts; net sits below core, so the literal is checked by a test). */
  readonly code = "ca_file_unreadable";
}

/**
 * The `ca` to give Bun's TLS client: undefined without a file (Bun's defaults apply as they are), else every default
 * CA plus the file's PEM. Read at each call so an edited file or store is seen at the next connection attempt.
 */
export function trustWithCaFile(caFile: string | undefined): string[] | undefined {
  if (!caFile) return undefined;
  let pem: string;
  try {
    pem = readFileSync(caFile, "utf8");
  } catch (e) {
    throw new CaFileError(`cannot read tunnel.ca_file ${caFile}: ${(e as Error).message}`);
  }
  return [...defaultCas(), pem];
}

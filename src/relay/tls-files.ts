// The relay's [tls] certificate and key, read before it listens: a file it cannot read is named by its setting
// (tls.cert_file, tls.key_file) at start and by `relay check`, not reported as a listener that failed.
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

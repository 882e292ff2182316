// The TLS trust of one https:// upstream: its own ca_file in place of the system store, or tls_insecure (an explicit
// opt-out the broker logs). NODE_TLS_REJECT_UNAUTHORIZED never decides: set for some other tool, it would hand every
// https upstream's traffic, prompts and auth_secret to anyone on the path (the tunnel, doctor and OIDC ignore it too).
// The broker and `doctor` read it alike.
import { readFileSync } from "node:fs";
import type { UpstreamConfig } from "./schema.ts";

/** Bun's fetch `tls` option as set for an upstream. */
export interface UpstreamTls {
  readonly rejectUnauthorized: boolean;
  /** The PEM of ca_file: Bun's `ca` replaces its default trust, as ca_file means (one string: no list to copy per request). */
  readonly ca?: string;
}

export interface TlsSetup {
  /** undefined for http:// upstreams. */
  readonly tls: UpstreamTls | undefined;
  /** Why the upstream cannot be called safely (ca_file unreadable or without a certificate): every call fails naming it. */
  readonly error: string | null;
  /** NODE_TLS_REJECT_UNAUTHORIZED=0 is set and is being ignored for this https upstream (worth a warning). */
  readonly envIgnored: boolean;
}

const VERIFY: UpstreamTls = Object.freeze({ rejectUnauthorized: true });
const INSECURE: UpstreamTls = Object.freeze({ rejectUnauthorized: false });
const PLAIN: TlsSetup = Object.freeze({ tls: undefined, error: null, envIgnored: false });

/** What calls to this upstream (requests, health checks, doctor's probes) trust; ca_file is read here, when the upstream is set up. */
export function upstreamTls(c: Pick<UpstreamConfig, "url" | "ca_file" | "tls_insecure">, env: NodeJS.ProcessEnv = process.env): TlsSetup {
  if (!/^https:/i.test(c.url)) return PLAIN;
  if (c.tls_insecure) return { tls: INSECURE, error: null, envIgnored: false };
  const envIgnored = env.NODE_TLS_REJECT_UNAUTHORIZED === "0";
  if (!c.ca_file) return { tls: VERIFY, error: null, envIgnored };
  let pem: string;
  try {
    pem = readFileSync(c.ca_file, "utf8");
  } catch (e) {
    return { tls: VERIFY, error: `cannot read its ca_file ${c.ca_file}: ${(e as Error).message}`, envIgnored };
  }
  // Bun takes a file without a certificate in it and then fails every connection as "a typo in the url or port?".
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) return { tls: VERIFY, error: `its ca_file ${c.ca_file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, envIgnored };
  return { tls: { rejectUnauthorized: true, ca: pem }, error: null, envIgnored };
}

// Unit tests for what an upstream's calls trust (ca_file, tls_insecure), whatever NODE_TLS_REJECT_UNAUTHORIZED says.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { upstreamTls } from "./upstream-tls.ts";

const up = (url: string, ca_file = "", tls_insecure = false) => ({ url, ca_file, tls_insecure });
const LOOSE = { NODE_TLS_REJECT_UNAUTHORIZED: "0" };

test("http:// has no TLS; https:// is verified, and the variable is noted as ignored, not obeyed", () => {
  expect(upstreamTls(up("http://127.0.0.1:11434"), LOOSE)).toEqual({ tls: undefined, error: null, envIgnored: false });
  expect(upstreamTls(up("https://gpu.lan"), {})).toEqual({ tls: { rejectUnauthorized: true }, error: null, envIgnored: false });
  expect(upstreamTls(up("https://gpu.lan"), LOOSE)).toEqual({ tls: { rejectUnauthorized: true }, error: null, envIgnored: true });
  // The explicit opt-out is the only way to turn the check off (and the variable then changes nothing).
  expect(upstreamTls(up("https://gpu.lan", "", true), LOOSE)).toEqual({ tls: { rejectUnauthorized: false }, error: null, envIgnored: false });
});

test("ca_file: its PEM replaces the default trust; unreadable or without a certificate is an error naming the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-upstream-tls-"));
  try {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    writeFileSync(join(dir, "ca.pem"), pem);
    writeFileSync(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
    expect(upstreamTls(up("https://gpu.lan", join(dir, "ca.pem")), {}).tls).toEqual({ rejectUnauthorized: true, ca: pem });
    expect(upstreamTls(up("https://gpu.lan", join(dir, "key.pem")), {}).error).toBe(`its ca_file ${join(dir, "key.pem")} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    const missing = upstreamTls(up("https://gpu.lan", join(dir, "nope.pem")), {});
    expect(missing.error).toStartWith(`cannot read its ca_file ${join(dir, "nope.pem")}: `);
    // Still verified: a call never goes out with weaker trust because the file could not be read.
    expect(missing.tls).toEqual({ rejectUnauthorized: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

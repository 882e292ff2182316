// ca_file adds to the default trust: every bundled root and the file's PEM, or nothing when ca_file is unset.
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { CaFileError, trustWithCaFile } from "./ca-trust.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

test("without ca_file Bun's defaults apply untouched", () => {
  expect(trustWithCaFile(undefined)).toBeUndefined();
  expect(trustWithCaFile("")).toBeUndefined();
});

test("with ca_file the list holds the file's PEM and every bundled root (the file adds, it does not replace)", () => {
  const file = join(mkdtempSync(join(tmpdir(), "c2l-ca-")), "ca.pem");
  writeFileSync(file, PEM);
  const ca = trustWithCaFile(file)!;
  expect(ca).toContain(PEM);
  expect(rootCertificates.filter((r) => !ca.includes(r))).toEqual([]);
  expect(new Set(ca).size).toBe(ca.length);
});

test("an unreadable ca_file is an error naming the option and the path", () => {
  expect(() => trustWithCaFile("/nonexistent/ca.pem")).toThrow(CaFileError);
  expect(() => trustWithCaFile("/nonexistent/ca.pem")).toThrow(/tunnel\.ca_file \/nonexistent\/ca\.pem/);
});

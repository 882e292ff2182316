// Signatures on the records a cluster keeps in Redis (leases, membership), with the cluster's record key: whoever can
// write to Redis but does not hold the shared secret cannot make a node forward anywhere, or count as a member.
import { createHmac, timingSafeEqual } from "node:crypto";

export type RecordKind = "lease" | "node";

function mac(key: Uint8Array, kind: RecordKind, fields: readonly string[]): Buffer {
  return createHmac("sha256", key).update(`c2l-record\n${kind}\n${fields.map((f) => `${f.length}:${f}`).join("\n")}`).digest();
}

export function signRecord(key: Uint8Array, kind: RecordKind, fields: readonly string[]): string {
  return mac(key, kind, fields).toString("base64url");
}

export function verifyRecord(key: Uint8Array, kind: RecordKind, fields: readonly string[], sig: string | undefined): boolean {
  if (!sig || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return false;
  return timingSafeEqual(mac(key, kind, fields), Buffer.from(sig, "base64url"));
}

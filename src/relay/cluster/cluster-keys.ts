// The keys a cluster derives from its one shared secret, each for one use (HMAC-SHA256 with a label), so that a
// signature made for one purpose never verifies for another: node-to-node requests, Redis records, and the key id that
// names this cluster's keyspace in Redis (nodes with another secret live beside it, never in it).
import { createHmac } from "node:crypto";

export interface ClusterKeys {
  /** Signs node-to-node requests and their body frames (node-auth.ts, hop-body.ts). */
  hop: Uint8Array;
  /** Signs lease and membership records kept in Redis (record-signature.ts). */
  record: Uint8Array;
  /** Public, 16 hex digits: this cluster's Redis keys live under c2l:relay:<keyId>: (a wrong secret, another keyspace). */
  keyId: string;
}

const derive = (secret: Uint8Array, label: string) => new Uint8Array(createHmac("sha256", secret).update(`cloudtolocalllm relay cluster ${label}`).digest());

export function clusterKeys(secret: Uint8Array): ClusterKeys {
  return { hop: derive(secret, "hop v2"), record: derive(secret, "record v1"), keyId: Buffer.from(derive(secret, "key id")).subarray(0, 8).toString("hex") };
}

/** Where this cluster's records live in Redis. */
export function clusterPrefix(keys: ClusterKeys): string {
  return `c2l:relay:${keys.keyId}`;
}

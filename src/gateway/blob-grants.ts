// The blobs each API key uploaded through the broker (proven by their bytes), the only ones a key with a model list may build a model from.
import type { KeyRecord } from "./keys.ts";

/** Digests remembered per key; past this the oldest is forgotten (its key is told to upload it again). */
export const BLOBS_PER_KEY = 256;
/** Keys remembered; past this the key that uploaded longest ago is forgotten (revoked keys linger until then). */
const KEYS = 256;

/**
 * Per key (by its hash: a key revoked and created again under the same name starts with none), the blob digests it
 * uploaded, as blobDigest() writes them. Kept in memory only: a restart forgets them, and /api/create then answers 403
 * naming the digest, to upload again (the upload is what proves the key has the file; nothing else can).
 */
export class BlobGrants {
  private readonly byKey = new Map<string, Set<string>>();

  grant(key: KeyRecord, digest: string): void {
    let set = this.byKey.get(key.hash);
    if (set) this.byKey.delete(key.hash);
    else set = new Set();
    // Most recent last, in both maps: the oldest is first to go.
    this.byKey.set(key.hash, set);
    set.delete(digest);
    set.add(digest);
    if (set.size > BLOBS_PER_KEY) set.delete(set.values().next().value!);
    if (this.byKey.size > KEYS) this.byKey.delete(this.byKey.keys().next().value!);
  }

  has(key: KeyRecord, digest: string): boolean {
    return this.byKey.get(key.hash)?.has(digest) === true;
  }
}

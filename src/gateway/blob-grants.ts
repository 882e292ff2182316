// The blobs each API key uploaded through the broker (proven by their bytes), the only ones a key with a model list may
// build a model from; kept across restarts in one small 0600 JSON file beside the usage file, written atomically.
import { existsSync, readFileSync } from "node:fs";
import { logger } from "../core/log.ts";
import { atomicWriteWithBackupInBackground } from "./background-write.ts";
import type { KeyRecord } from "./keys.ts";

const log = logger("gateway");

/** Digests remembered per key; past this the oldest is forgotten (its key is told to upload it again). */
export const BLOBS_PER_KEY = 256;
/** Keys remembered; past this the key that uploaded longest ago is forgotten (revoked keys linger until then). */
const KEYS = 256;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Per key (by its hash: a key revoked and created again under the same name starts with none), the blob digests it
 * uploaded, as blobDigest() writes them. An upload is rare (a model's files), so each grant writes the file, in the
 * background; a file that cannot be read or written leaves the grants in memory only (a warning says so), and a create
 * naming a blob forgotten that way answers 403 naming it, to upload again.
 */
export class BlobGrants {
  private readonly byKey = new Map<string, Set<string>>();
  private writing: Promise<void> | null = null;
  private dirty = false;

  /** `file`: where they are kept; null keeps them in memory only. */
  constructor(readonly file: string | null = null) {
    if (file !== null && existsSync(file)) this.load(file);
  }

  grant(key: KeyRecord, digest: string): void {
    const set = this.byKey.get(key.hash);
    if (set?.has(digest)) return;
    this.add(key.hash, digest);
    this.dirty = true;
    void this.flush();
  }

  has(key: KeyRecord, digest: string): boolean {
    return this.byKey.get(key.hash)?.has(digest) === true;
  }

  /** Writes what changed since the last write (one write at a time; grants made meanwhile go in the next). */
  flush(): Promise<void> {
    // A write under way finishes first (what it holds may be older than what is asked for now).
    if (this.writing) return this.writing.then(() => this.flush());
    if (this.file === null || !this.dirty) return Promise.resolve();
    this.dirty = false;
    const keys: Record<string, string[]> = {};
    for (const [k, set] of this.byKey) keys[k] = [...set];
    this.writing = atomicWriteWithBackupInBackground(this.file, JSON.stringify({ version: 1, keys }), 0o600)
      .catch((e: unknown) => log.warn("could not write the blobs file; the keys' uploads are remembered in memory until the daemon stops", { file: this.file, error: e as Error }))
      .finally(() => {
        this.writing = null;
      });
    return this.writing;
  }

  private add(hash: string, digest: string): void {
    let set = this.byKey.get(hash);
    if (set) this.byKey.delete(hash);
    else set = new Set();
    // Most recent last, in both maps: the oldest is first to go.
    this.byKey.set(hash, set);
    set.add(digest);
    if (set.size > BLOBS_PER_KEY) set.delete(set.values().next().value!);
    if (this.byKey.size > KEYS) this.byKey.delete(this.byKey.keys().next().value!);
  }

  private load(file: string): void {
    try {
      const data = JSON.parse(readFileSync(file, "utf8")) as { version?: number; keys?: Record<string, unknown> };
      if (data?.version !== 1 || typeof data.keys !== "object" || data.keys === null) throw new Error("not a blobs file");
      for (const [hash, digests] of Object.entries(data.keys))
        if (Array.isArray(digests)) for (const d of digests) if (typeof d === "string" && DIGEST.test(d)) this.add(hash, d);
    } catch (e) {
      log.warn("the blobs file could not be read; keys with a model list upload their files again to build models from them", { file, error: e as Error });
    }
  }
}

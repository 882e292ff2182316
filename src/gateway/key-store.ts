// The gateway keys' file: hashed records in one 0600 JSON file, written atomically with the previous version kept as .bak.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteWithBackup } from "../config/atomic-write.ts";
import { withFileLock } from "../config/file-lock.ts";
import { appStateDir } from "../config/paths.ts";
import type { CodeOf } from "../core/error-codes.ts";
import { expired, keyHash, type KeyRecord } from "./keys.ts";
import { checkKeysFile } from "./keys-file-check.generated.ts";

export function defaultKeysFile(): string {
  return join(appStateDir(), "keys.json");
}

export class KeyStoreError extends Error {
  override name = "KeyStoreError";
  constructor(
    readonly code: CodeOf<"KeyStoreError">,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads and writes the keys file. The daemon and the CLI both use it: the daemon notices a change the CLI wrote by the
 * file's mtime and size, looked at no more than once per `recheckMs`, so checking a key costs a hash and a map lookup.
 * A file that cannot be read as keys is reported and the keys read before stay in force. A change (add, revoke) reads
 * and writes the file under a lock file, so two processes changing it at once both land.
 */
export class KeyStore {
  private records: KeyRecord[] = [];
  private byHash = new Map<string, KeyRecord>();
  private stamp = "";
  private checkedAt = -Infinity;
  /** Why the file was last refused, or null when it was read. */
  lastError: string | null = null;
  /**
   * Told of the keys a change took away (revoked here, or by another process whose write this one read), by the
   * records they had: the daemon refuses what they have waiting in the broker's queue at once.
   */
  onRemoved: ((gone: KeyRecord[]) => void) | null = null;

  constructor(
    readonly file: string = defaultKeysFile(),
    private readonly now: () => number = Date.now,
    private readonly recheckMs = 1000,
  ) {
    this.refresh(true);
  }

  /** Re-reads the file if it changed (at most once per recheckMs unless forced). */
  refresh(force = false): void {
    const now = this.now();
    if (!force && now - this.checkedAt < this.recheckMs) return;
    this.checkedAt = now;
    let stamp = "";
    try {
      const st = statSync(this.file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      stamp = "absent";
    }
    if (stamp === this.stamp) return;
    try {
      this.install(this.read());
      this.stamp = stamp;
      this.lastError = null;
    } catch (e) {
      this.lastError = (e as Error).message;
      this.stamp = stamp;
    }
  }

  private read(): KeyRecord[] {
    if (!existsSync(this.file)) return [];
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (e) {
      // A directory in its place, no permission: named with the file, as a file that does not parse is.
      throw new KeyStoreError("keys_file_invalid", `the keys file ${this.file} cannot be read (${(e as Error).message}); the keys read before stay in force`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new KeyStoreError("keys_file_invalid", `the keys file ${this.file} is not valid JSON (${(e as Error).message}); the keys read before stay in force`);
    }
    // The generated check (no TypeBox at start-up); TypeBox loads only for a file that fails it, to decide and name what is wrong.
    const problem = checkKeysFile(data) ? null : (require("./keys-file-shape.ts") as typeof import("./keys-file-shape.ts")).keysFileProblem(data);
    if (problem) throw new KeyStoreError("keys_file_invalid", `the keys file ${this.file} is not a keys file (${problem}); the keys read before stay in force`);
    return (data as { keys: KeyRecord[] }).keys;
  }

  private install(records: KeyRecord[]): void {
    const before = this.records;
    this.records = records;
    this.byHash = new Map(records.map((r) => [r.hash, r]));
    if (this.onRemoved === null) return;
    const gone = before.filter((r) => !this.byHash.has(r.hash));
    if (gone.length) this.onRemoved(gone);
  }

  private write(records: KeyRecord[]): void {
    // The previous version stays beside it: a mistaken revoke can be undone by hand.
    atomicWriteWithBackup(this.file, JSON.stringify({ version: 1, keys: records }, null, 2) + "\n", 0o600);
    this.install(records);
    this.refresh(true);
  }

  /** Every key, in the order they were created. */
  list(): KeyRecord[] {
    this.refresh();
    return [...this.records];
  }

  get(name: string): KeyRecord | undefined {
    this.refresh();
    return this.records.find((r) => r.name === name);
  }

  /** Whether any key exists that has not expired (a listener beyond loopback needs one under require_key = auto). */
  hasUsableKey(): boolean {
    this.refresh();
    const now = this.now();
    return this.records.some((r) => !expired(r, now));
  }

  add(record: KeyRecord): void {
    withFileLock(this.file, () => {
      this.refresh(true);
      if (this.lastError) throw new KeyStoreError("keys_file_invalid", this.lastError);
      if (this.records.some((r) => r.name === record.name)) throw new KeyStoreError("key_exists", `a key named "${record.name}" exists already; revoke it first or choose another name`);
      this.write([...this.records, record]);
    });
  }

  /** Removes a key; false when there was none by that name. */
  revoke(name: string): boolean {
    return withFileLock(this.file, () => {
      this.refresh(true);
      if (this.lastError) throw new KeyStoreError("keys_file_invalid", this.lastError);
      if (!this.records.some((r) => r.name === name)) return false;
      this.write(this.records.filter((r) => r.name !== name));
      return true;
    });
  }

  /** The record of a presented key (any string), or null. */
  lookup(key: string): KeyRecord | null {
    this.refresh();
    return this.byHash.get(keyHash(key)) ?? null;
  }
}

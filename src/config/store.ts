// The one way the program writes its config file: validate, back up the current file, write atomically (0600); plus backups, restore and export.
import { chmodSync, existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml, stringify } from "smol-toml";
import { atomicCopy, atomicWrite, previousVersion } from "./atomic-write.ts";
import { formatIssue, MAX_CONFIG_BYTES, parseConfig, readConfigText, type ConfigIssue } from "./load.ts";
import { backupsDir } from "./paths.ts";
import { redactSecrets } from "./redact.ts";
import type { Config } from "./schema.ts";

export interface BackupInfo {
  /** Stable id, e.g. "20261121T154210123Z" (sortable; "-2" appended when two land in the same millisecond). */
  id: string;
  /** ISO time the backup was taken. */
  time: string;
  size: number;
  file: string;
}

export type WriteResult = { ok: true; config: Config; backup: BackupInfo | null } | { ok: false; issues: ConfigIssue[] };

export interface StoreOptions {
  /** Default: $XDG_STATE_HOME/cloudtolocalllm/backups. */
  backupsDir?: string;
  /** Backups kept (oldest removed first). */
  keep?: number;
}

export class BackupNotFoundError extends Error {
  override name = "BackupNotFoundError";
  /** Its stable code (src/core/error-codes.ts): 404 in the API, exit 1 in the CLI. */
  readonly code = "backup_not_found";
}

const ID_RE = /^\d{8}T\d{9}Z(-\d+)?$/;

function idFor(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, "");
}
function timeOf(id: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id)!;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}

export class ConfigStore {
  readonly dir: string;
  readonly keep: number;

  constructor(
    readonly file: string,
    opts: StoreOptions = {},
  ) {
    this.dir = opts.backupsDir ?? backupsDir();
    this.keep = opts.keep ?? 20;
  }

  /** Current file text, or null when there is none yet. */
  read(): string | null {
    return existsSync(this.file) ? readConfigText(this.file) : null;
  }

  /** Validates `text`; only if it is valid, backs up the current file and replaces it atomically with mode 0600. */
  write(text: string): WriteResult {
    const r = parseConfig(text, this.file);
    if (!r.ok) return r;
    const backup = existsSync(this.file) ? this.backup(false, true) : null;
    try {
      atomicWrite(this.file, text, 0o600);
    } catch (e) {
      // The file stays as it was, so its copy is not needed; pruned only after a write, a failing save retried
      // (a full disk, a read-only directory) cannot push the older backups out one by one.
      if (backup) rmSync(backup.file, { force: true });
      throw e;
    }
    if (backup) {
      // A large file set aside by a link keeps its mode until its old name is gone (0600 from here on, as a copy is),
      // unless another name still holds it (a config hard-linked from elsewhere): that file's mode is not ours to change.
      if (backup.size > MAX_CONFIG_BYTES && statSync(backup.file).nlink === 1) chmodSync(backup.file, 0o600);
      this.prune();
    }
    return { ok: true, config: r.config, backup };
  }

  /**
   * Copies the current file into the backups directory (throws when there is no file to back up). `replacing`: the
   * file is about to be replaced by a rename, so a file too large to be a config may be linked rather than copied.
   */
  backup(prune = true, replacing = false): BackupInfo {
    const size = statSync(this.file, { throwIfNoEntry: false })?.size ?? 0;
    // A file over the config limit (a log redirected into it: gigabytes) is never read whole, here either: the reload
    // read no more than 1 MiB of it, and a save that fixes it must not hold the daemon at its size. It is set aside
    // whole all the same, as it is the user's.
    const large = size > MAX_CONFIG_BYTES && statSync(this.file).isFile();
    // A directory in the file's place is named as what stops the write, not as a bare EISDIR (a 500 "internal error").
    const text = large ? null : previousVersion(this.file);
    if (!large && !text) throw new Error(`nothing to back up: ${this.file} does not exist`);
    // Ids sort as backups were taken, and pruning removes the first ones: with the clock set back (NTP correcting a
    // wrong RTC, a VM resumed from a snapshot) a wall-clock id would sort before the backups taken earlier, and the
    // backup just taken would be the one pruned. So an id is never older than the newest backup's.
    const newest = this.newest();
    const now = Date.now();
    const base = idFor(new Date(newest ? Math.max(now, Date.parse(newest.time) + 1) : now));
    let id = base;
    for (let n = 2; existsSync(this.pathOf(id)); n++) id = `${base}-${n}`;
    // atomicWrite makes the directory (0700), and names the backup and the cause when it cannot (a read-only disk).
    if (text) atomicWrite(this.pathOf(id), text, 0o600);
    else atomicCopy(this.file, this.pathOf(id), { link: replacing });
    if (prune) this.prune();
    return { id, time: timeOf(id), size: text ? text.length : size, file: this.pathOf(id) };
  }

  /** Backups, oldest first. */
  list(): BackupInfo[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(".toml") && ID_RE.test(f.slice(0, -5)))
      .map((f) => f.slice(0, -5))
      .sort(compareIds)
      .flatMap((id) => {
        // One pruned by another process (the CLI, the daemon) since the directory was read is no longer a backup.
        const st = statSync(this.pathOf(id), { throwIfNoEntry: false });
        return st ? [{ id, time: timeOf(id), size: st.size, file: this.pathOf(id) }] : [];
      });
  }

  /** Puts a backup back: it is validated first, and the current file is itself backed up before being replaced. */
  restore(id: string): WriteResult {
    if (!ID_RE.test(id) || !existsSync(this.pathOf(id))) throw new BackupNotFoundError(`no backup with id "${id}" in ${this.dir}`);
    // Read as the config is (at most 1 MiB): a large file set aside is refused for its size, not read whole.
    const r = this.write(readConfigText(this.pathOf(id)));
    if (!r.ok) for (const i of r.issues) i.file = this.pathOf(id);
    return r;
  }

  /** The current file as TOML; inline secrets (tokens, passwords, credentials in URLs) are redacted unless asked. */
  export(opts: { includeSecrets?: boolean } = {}): string {
    const text = this.read();
    if (text === null) throw new Error(`${this.file} does not exist`);
    const r = parseConfig(text, this.file);
    if (!r.ok) throw new Error(formatIssue(r.issues[0]!));
    if (opts.includeSecrets) return text;
    const { value, redacted } = redactSecrets(parseToml(text));
    if (!redacted.length) return text;
    return `# Exported from ${this.file}; redacted: ${redacted.join(", ")}\n` + stringify(value) + "\n";
  }

  /** The newest backup; none when the directory cannot be listed (the write below names why it cannot be written). */
  private newest(): BackupInfo | undefined {
    try {
      return this.list().at(-1);
    } catch {
      return undefined;
    }
  }

  private pathOf(id: string): string {
    return join(this.dir, `${id}.toml`);
  }

  private prune(): void {
    const all = this.list();
    for (const b of all.slice(0, Math.max(0, all.length - this.keep))) rmSync(b.file, { force: true });
  }
}

function compareIds(a: string, b: string): number {
  const [ta, na] = a.split("-");
  const [tb, nb] = b.split("-");
  return ta! < tb! ? -1 : ta! > tb! ? 1 : Number(na ?? 1) - Number(nb ?? 1);
}

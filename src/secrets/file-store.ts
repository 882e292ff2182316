// The fallback SecretStore: one JSON file, mode 0600, under $XDG_STATE_HOME/cloudtolocalllm, replaced atomically.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SecretStore } from "../core/contracts.ts";
import { logger, registerSecret } from "../core/log.ts";
import { appStateDir } from "../config/paths.ts";
import { atomicWrite, tempPathFor, writeFailure } from "../config/atomic-write.ts";
import { withFileLock } from "../config/file-lock.ts";
import { keepPrivate } from "../config/file-mode.ts";
import { checkSecretName } from "../config/secret-names.ts";

const log = logger("secrets");

export function defaultSecretsFile(): string {
  return join(appStateDir(), "secrets.json");
}

interface FileShape {
  version: 1;
  secrets: Record<string, string>;
}

export class FileSecretStore implements SecretStore {
  readonly backend = "file" as const;
  private saidLoose = false;

  constructor(
    readonly path: string = defaultSecretsFile(),
    readonly warning: string | null = null,
  ) {}

  private read(): Record<string, string> {
    let text: string;
    try {
      // Someone loosened the mode (copy, editor): tighten it rather than keep secrets readable by others. On a
      // read-only mount it cannot be: the secrets are still read (every get() failing would stop the tunnel), said once.
      const kept = keepPrivate(this.path);
      if (kept === "tightened") log.warn("secrets file was readable by others; its mode is now 0600", { file: this.path });
      else if (typeof kept === "object" && !this.saidLoose) {
        this.saidLoose = true;
        log.warn("secrets file is readable by others and cannot be made 0600; it is used as it is", { file: this.path, reason: kept.cannot });
      }
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw e;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`The secrets file ${this.path} is not valid JSON; fix or remove it.`);
    }
    const secrets = (parsed as Partial<FileShape>)?.secrets;
    if (!secrets || typeof secrets !== "object") throw new Error(`The secrets file ${this.path} has no "secrets" object; fix or remove it.`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(secrets)) if (typeof v === "string") out[k] = v;
    return out;
  }

  /**
   * Whether a sign-in's tokens could be stored now: a trial write beside the file, as big as the file would get, then
   * removed. A full or read-only disk is found before the issuer is asked (as a locked keyring is), not after the grant,
   * when the tokens would be kept for this run only. The sentence names the file and the cause; null when it can write.
   */
  async checkWritable(): Promise<string | null> {
    const tmp = tempPathFor(this.path);
    let fd: number | null = null;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      let size = 0;
      try {
        size = statSync(this.path).size;
      } catch {}
      // The file and a session's tokens (a few KiB).
      const probe = Buffer.alloc(size + 8192);
      fd = openSync(tmp, "wx", 0o600);
      for (let off = 0; off < probe.length; ) off += writeSync(fd, probe, off, probe.length - off);
      fsyncSync(fd);
      return null;
    } catch (e) {
      return (writeFailure(e, this.path) ?? (e as Error)).message;
    } finally {
      if (fd !== null) closeSync(fd);
      try {
        rmSync(tmp, { force: true });
      } catch {}
    }
  }

  private write(secrets: Record<string, string>): void {
    const data: FileShape = { version: 1, secrets };
    atomicWrite(this.path, JSON.stringify(data, null, 2) + "\n", 0o600);
  }

  async get(name: string): Promise<string | null> {
    const v = this.read()[checkSecretName(name)] ?? null;
    registerSecret(v);
    return v;
  }
  // A change reads, changes and writes the whole file under a lock file: the daemon (a sign-in refreshed) and the CLI
  // (`secret set`) changing it at once would otherwise write back what each read before the other's change, losing it.
  async set(name: string, value: string): Promise<void> {
    checkSecretName(name);
    registerSecret(value);
    withFileLock(this.path, () => {
      const all = this.read();
      all[name] = value;
      this.write(all);
    });
  }
  async delete(name: string): Promise<boolean> {
    checkSecretName(name);
    return withFileLock(this.path, () => {
      const all = this.read();
      if (!(name in all)) return false;
      delete all[name];
      this.write(all);
      return true;
    });
  }
  async list(): Promise<string[]> {
    return Object.keys(this.read()).sort();
  }
}

// The fallback SecretStore: one JSON file, mode 0600, under $XDG_STATE_HOME/cloudtolocalllm, replaced atomically.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SecretStore } from "../core/contracts.ts";
import { logger, registerSecret } from "../core/log.ts";
import { appStateDir } from "../config/paths.ts";
import { atomicWrite } from "../config/atomic-write.ts";
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

// Picks the secret backend from [secrets] backend (keyring, else the 0600 file) and layers the environment override on top.
import type { Config } from "../config/schema.ts";
import type { SecretStore } from "../core/contracts.ts";
import { existsSync } from "node:fs";
import { logger, registerSecret } from "../core/log.ts";
import { FileSecretStore, defaultSecretsFile } from "./file-store.ts";
import { sessionBusAddress } from "../desktop/dbus-address.ts";
import { checkSecretName, secretEnvVar } from "../config/secret-names.ts";
import { inlineSecretFields, inlineSecretWarning, isInlineSecret } from "../config/inline-secrets.ts";

const log = logger("secrets");

export interface OpenSecretStoreOptions {
  env?: NodeJS.ProcessEnv;
  /** D-Bus address of the session bus; default from the environment. */
  busAddress?: string | null;
  /** Fallback file; default $XDG_STATE_HOME/cloudtolocalllm/secrets.json. */
  file?: string;
  /** Time allowed for each D-Bus call. */
  callTimeoutMs?: number;
}

export interface ClosableSecretStore extends SecretStore {
  /** Whether an environment variable supplies `name`. */
  fromEnv(name: string): boolean;
  /** Asks the backend now whether a secret could be stored: null, else why not (a locked keyring). */
  checkWritable(): Promise<string | null>;
  /** The warning as one short log line (status and doctor show the whole `warning`). */
  readonly brief: string | null;
  /** Recomputes the inline-secret warning after the config changed. */
  checkConfig(config: Partial<Pick<Config, "tunnel" | "upstreams">>): void;
  close(): Promise<void>;
}

/**
 * get() looks at CLOUDTOLOCALLLM_SECRET_<NAME> first, so containers and tests can pass secrets without a keyring;
 * a reference that is itself a credential (an inline secret in the config) is returned as is.
 */
class EnvOverlayStore implements ClosableSecretStore {
  private inlineWarning: string | null = null;
  constructor(
    private readonly inner: SecretStore & { close?(): Promise<void> },
    private readonly env: NodeJS.ProcessEnv,
    private readonly innerBrief: string | null = null,
    /** The fallback file beside a keyring: it may hold copies from a time without one (a login over ssh), never read. */
    private readonly fallbackFile: FileSecretStore | null = null,
  ) {}
  get backend() {
    return this.inner.backend;
  }
  get warning() {
    const all = [this.inner.warning, this.inlineWarning].filter(Boolean);
    return all.length ? all.join(" ") : null;
  }
  checkWritable(): Promise<string | null> {
    return this.inner.checkWritable?.() ?? Promise.resolve(null);
  }
  get brief() {
    const all = [this.innerBrief ?? this.inner.warning, this.inlineWarning].filter(Boolean);
    return all.length ? all.join(" ") : null;
  }
  checkConfig(config: Partial<Pick<Config, "tunnel" | "upstreams">>): void {
    this.inlineWarning = inlineSecretWarning(inlineSecretFields(config));
  }
  fromEnv(name: string): boolean {
    return !!this.env[secretEnvVar(checkSecretName(name))];
  }
  async get(name: string): Promise<string | null> {
    if (isInlineSecret(name)) {
      registerSecret(name);
      return name;
    }
    const v = this.env[secretEnvVar(checkSecretName(name))];
    if (v) {
      registerSecret(v);
      return v;
    }
    return this.inner.get(name);
  }
  set(name: string, value: string) {
    return this.inner.set(name, value);
  }
  async leftover(name: string): Promise<string | null> {
    if (!this.fallbackFile || !existsSync(this.fallbackFile.path)) return null;
    return this.fallbackFile.get(name).catch(() => null);
  }
  /** Deletes everywhere the program ever stored it: a sign-out or `secret delete` leaves no copy in the fallback file. */
  async delete(name: string) {
    const deleted = await this.inner.delete(name);
    if (!this.fallbackFile || !existsSync(this.fallbackFile.path)) return deleted;
    const old = await this.fallbackFile.delete(name);
    if (old) log.info("deleted a copy left in the fallback file from a time without a keyring", { name, file: this.fallbackFile.path });
    return deleted || old;
  }
  list() {
    return this.inner.list();
  }
  async close() {
    await this.inner.close?.();
  }
}

/** Layers the CLOUDTOLOCALLLM_SECRET_<NAME> override on a store. */
export function withEnvOverride(store: SecretStore & { close?(): Promise<void> }, env: NodeJS.ProcessEnv = process.env): ClosableSecretStore {
  return new EnvOverlayStore(store, env);
}

/** Every operation fails with the same sentence: used when the configured keyring cannot be reached. */
export class UnavailableSecretStore implements SecretStore {
  readonly backend = "secret-service" as const;
  constructor(readonly warning: string) {}
  private fail(): never {
    throw new Error(this.warning);
  }
  async get(): Promise<string | null> {
    this.fail();
  }
  async set(): Promise<void> {
    this.fail();
  }
  async delete(): Promise<boolean> {
    this.fail();
  }
  async list(): Promise<string[]> {
    this.fail();
  }
  async checkWritable(): Promise<string | null> {
    return this.warning;
  }
}

/**
 * Opens the store [secrets] backend asks for. `auto` uses the Secret Service when it answers with a default keyring,
 * else the 0600 file (with a warning for status and doctor). `secret-service` never falls back: it throws instead.
 */
export async function openSecretStore(
  config: Pick<Config, "secrets"> & Partial<Pick<Config, "tunnel" | "upstreams">>,
  opts: OpenSecretStoreOptions = {},
): Promise<ClosableSecretStore> {
  const store = await openBackend(config, opts);
  store.checkConfig(config);
  return store;
}

async function openBackend(config: Pick<Config, "secrets">, opts: OpenSecretStoreOptions): Promise<ClosableSecretStore> {
  const env = opts.env ?? process.env;
  const file = opts.file ?? defaultSecretsFile();
  const backend = config.secrets.backend;
  if (backend === "file") return new EnvOverlayStore(new FileSecretStore(file), env);

  const address = opts.busAddress !== undefined ? opts.busAddress : sessionBusAddress(env);
  let reason: string;
  let short: string;
  if (!address) {
    reason = "there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)";
    short = "no session bus";
  } else {
    // Loaded only here: the D-Bus client costs an idle process memory, and the file backend never needs it.
    const { SecretServiceStore } = await import("./secret-service-store.ts");
    const ss = new SecretServiceStore({ busAddress: address, callTimeoutMs: opts.callTimeoutMs ?? (backend === "auto" ? 3000 : 10000) });
    try {
      await ss.probe();
      return new EnvOverlayStore(ss, env, null, new FileSecretStore(file));
    } catch (e) {
      await ss.close().catch(() => {});
      reason = (e as Error).message.replace(/\.$/, "");
      short = reason.length > 60 ? reason.slice(0, 59) + "…" : reason;
    }
  }
  if (backend === "secret-service") throw new Error(`The desktop keyring is not available: ${reason}.`);
  const warning = `No desktop keyring: ${reason}; secrets are kept in ${file} (mode 0600) instead.`;
  const home = env.HOME;
  const shown = home && file.startsWith(home + "/") ? "~" + file.slice(home.length) : file;
  return new EnvOverlayStore(new FileSecretStore(file, warning), env, `No desktop keyring (${short}): secrets are kept in ${shown}`);
}

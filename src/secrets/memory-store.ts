// An in-memory SecretStore for unit tests.
import type { SecretStore } from "../core/contracts.ts";
import { registerSecret } from "../core/log.ts";
import { checkSecretName } from "../config/secret-names.ts";

export class MemorySecretStore implements SecretStore {
  readonly backend = "memory" as const;
  readonly warning: string | null = null;
  private readonly values = new Map<string, string>();

  async get(name: string): Promise<string | null> {
    const v = this.values.get(checkSecretName(name)) ?? null;
    registerSecret(v);
    return v;
  }
  async set(name: string, value: string): Promise<void> {
    registerSecret(value);
    this.values.set(checkSecretName(name), value);
  }
  async delete(name: string): Promise<boolean> {
    return this.values.delete(checkSecretName(name));
  }
  async list(): Promise<string[]> {
    return [...this.values.keys()].sort();
  }
}

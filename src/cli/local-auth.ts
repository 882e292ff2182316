// What the sign-in and secret commands share: the config file (defaults when there is none) and a local AuthManager.
import { existsSync } from "node:fs";
import { configPath } from "../config/paths.ts";
import { defaultConfig, formatIssue, parseConfig, readConfigText } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { CliError, UsageError } from "./args.ts";
import { openSecretStore } from "../secrets/open-secret-store.ts";
import { EventBus } from "../core/events.ts";
import { AuthManager } from "../auth/manager.ts";

export function loadCliConfig(explicit?: string): { file: string; config: Config } {
  const file = configPath(explicit);
  if (!existsSync(file)) return { file, config: defaultConfig() };
  // Read as the daemon reads it (at most 1 MiB): a huge file is refused for its size, not held in memory whole.
  const r = parseConfig(readConfigText(file), file);
  if (!r.ok) throw new UsageError(formatIssue(r.issues[0]!));
  return { file, config: r.config };
}

/** Runs `fn` on a throw-away AuthManager over the stored session: the daemon's own code paths, for the CLI. */
export async function withLocalAuth<T>(config: Config, fn: (manager: AuthManager) => Promise<T>): Promise<T> {
  const store = await openSecretStore(config).catch((e) => {
    throw new CliError((e as Error).message);
  });
  try {
    const manager = new AuthManager({ config: () => config.auth, secrets: () => store, events: new EventBus(10) });
    try {
      await manager.reload();
      return await fn(manager);
    } finally {
      // Never refresh from the CLI: the daemon owns the refresh token's rotation.
      await manager.stop();
    }
  } finally {
    await store.close();
  }
}

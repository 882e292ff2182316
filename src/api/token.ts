// The control API's bearer token: created once (random, 0600 file) by the daemon, read by the CLI, the tray and the dashboard.
import { existsSync, readFileSync } from "node:fs";
import { atomicWrite } from "../config/atomic-write.ts";
import { keepPrivate } from "../config/file-mode.ts";
import { defaultTokenFile } from "../config/paths.ts";
import type { Config } from "../config/schema.ts";
import { logger, registerSecret } from "../core/log.ts";

const log = logger("api");

type ApiConfig = Pick<Config, "api">;

/** Where the token lives: `[api] token_file`, else $XDG_CONFIG_HOME/cloudtolocalllm/api-token. */
export function tokenFile(config: ApiConfig): string {
  return config.api.token_file || defaultTokenFile();
}

/** 32 random bytes, base64url: no characters that need quoting in a header or a shell. */
export function newToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/** The token from its file, or null when the file does not exist or is empty. */
export function readApiToken(config: ApiConfig): string | null {
  const file = tokenFile(config);
  if (!existsSync(file)) return null;
  const token = readFileSync(file, "utf8").trim();
  if (!token) return null;
  registerSecret(token);
  return token;
}

/** Returns the token, creating the file (mode 0600, directory 0700) on first run; tightens a file that others can read. */
export function ensureApiToken(config: ApiConfig): string {
  const file = tokenFile(config);
  const existing = readApiToken(config);
  if (existing) {
    // A token readable by other local users would let them drive the daemon. One that cannot be tightened (a read-only
    // mount such as a container's secret volume) is used all the same: refusing it would stop the daemon from starting.
    const kept = keepPrivate(file);
    if (typeof kept === "object")
      log.warn("the API token file is readable by others and cannot be made 0600; it is used as it is", { file, reason: kept.cannot });
    return existing;
  }
  const token = newToken();
  atomicWrite(file, token + "\n", 0o600);
  registerSecret(token);
  return token;
}

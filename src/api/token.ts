// The control API's bearer token: created once (random, 0600 file) by the daemon, read by the CLI, the tray and the dashboard.
import { existsSync, readFileSync, statSync, chmodSync } from "node:fs";
import { atomicWrite } from "../config/atomic-write.ts";
import { defaultTokenFile } from "../config/paths.ts";
import type { Config } from "../config/schema.ts";
import { registerSecret } from "../core/log.ts";

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
    // A token readable by other local users would let them drive the daemon.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return existing;
  }
  const token = newToken();
  atomicWrite(file, token + "\n", 0o600);
  registerSecret(token);
  return token;
}

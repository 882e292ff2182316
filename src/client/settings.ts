// What a client of the daemon (the CLI, the tray) reads from the config file: the API address, the token file, notifications.
import { existsSync, readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { Value } from "@sinclair/typebox/value";
import { defaultConfig, parseConfig } from "../config/load.ts";
import { splitListen } from "../config/listen.ts";
import { AlertsSchema, ApiSchema, type Config } from "../config/schema.ts";
import { readApiToken, tokenFile } from "../api/token.ts";
import { baseUrlOf } from "../core/listen-url.ts";
import { ApiClient, type ApiClientOptions } from "./api-client.ts";

export interface ClientSettings {
  /** `[api]` with the schema's defaults. */
  api: Config["api"];
  /** The API's base URL, or null when `[api] listen` asks for a random port (only the daemon's log knows it). */
  base: string | null;
  tokenFile: string;
  /** `[alerts] notifications`. */
  notifications: boolean;
}

/**
 * The sections a client needs even when the rest of the file is invalid (`reload` must still reach the daemon to report
 * why, and the tray must still follow it): the whole file when it is valid, else each section on its own with the
 * schema's defaults, else the defaults. A missing file gives the defaults.
 */
function sections(file: string): Pick<Config, "api" | "alerts"> {
  if (!existsSync(file)) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return defaultConfig();
  }
  const r = parseConfig(text, file);
  if (r.ok) return r.config;
  const out = defaultConfig();
  let raw: { api?: unknown; alerts?: unknown };
  try {
    raw = parseToml(text) as typeof raw;
  } catch {
    return out;
  }
  const api = Value.Default(ApiSchema, structuredClone(raw.api ?? {}));
  if (Value.Check(ApiSchema, api)) out.api = api;
  const alerts = Value.Default(AlertsSchema, structuredClone(raw.alerts ?? {}));
  if (Value.Check(AlertsSchema, alerts)) out.alerts = alerts;
  else if (typeof (raw.alerts as { notifications?: unknown } | undefined)?.notifications === "boolean")
    out.alerts.notifications = (raw.alerts as { notifications: boolean }).notifications;
  return out;
}

/** The one reader of client settings, for the CLI and the tray. */
export function readClientSettings(file: string): ClientSettings {
  const c = sections(file);
  return {
    api: c.api,
    base: splitListen(c.api.listen).port === 0 ? null : baseUrlOf(c.api.listen),
    tokenFile: tokenFile(c),
    notifications: c.alerts.notifications,
  };
}

/** The token from the settings' token file (read at each call: the daemon creates it on its first start). */
export function tokenReader(settings: Pick<ClientSettings, "api">): () => string | null {
  return () => readApiToken({ api: settings.api });
}

/** An API client with the bearer token from the settings' token file. */
export function clientFor(settings: ClientSettings, base: string, opts: Partial<ApiClientOptions> = {}): ApiClient {
  return new ApiClient({ base, token: tokenReader(settings), ...opts });
}

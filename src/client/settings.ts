// What a client of the daemon (the CLI, the tray) reads from the config file: the API address, the token file, notifications.
import { existsSync, readFileSync, statSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import type { TObject, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { defaultConfig, parseConfig } from "../config/load.ts";
import { splitListen } from "../config/listen.ts";
import { AlertsSchema, ApiSchema, type Config } from "../config/schema.ts";
import { readApiToken, tokenFile } from "../api/token.ts";
import { readListenRecord } from "../api/listen-record.ts";
import { baseUrlOf } from "../core/listen-url.ts";
import { isLoopbackHost } from "../net/host.ts";
import { loopbackListenerUids } from "../net/listener-owner.ts";
import { ApiClient, ApiError, type ApiClientOptions } from "./api-client.ts";

export interface ClientSettings {
  /** `[api]` with the schema's defaults. */
  api: Config["api"];
  /** The API's base URL, or null when `[api] listen` asks for a random port (only the daemon's log knows it). */
  base: string | null;
  tokenFile: string;
  /** `[alerts] notifications`. */
  notifications: boolean;
  /** Set when `base` is from the listen record of the daemon running on this very file (else it is `[api] listen`'s). */
  recorded?: true;
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
    // Not TOML as a whole (a slip while editing; the daemon keeps its last good config): its own tables may still be.
    raw = ownTables(text);
  }
  // A wrong value in [api] itself (a typo in body_limit) must not take `listen` and `token_file` with it: the CLI would
  // then knock at the default port and report the daemon down instead of the file's line and column.
  const api = Value.Default(ApiSchema, validFields(ApiSchema, raw.api));
  if (Value.Check(ApiSchema, api)) out.api = api;
  const alerts = Value.Default(AlertsSchema, structuredClone(raw.alerts ?? {}));
  if (Value.Check(AlertsSchema, alerts)) out.alerts = alerts;
  else if (typeof (raw.alerts as { notifications?: unknown } | undefined)?.notifications === "boolean")
    out.alerts.notifications = (raw.alerts as { notifications: boolean }).notifications;
  return out;
}

/** The keys of a table whose values pass their own schema, copied; the rest are left to the defaults. */
function validFields(schema: TObject, table: unknown): Record<string, unknown> {
  if (!table || typeof table !== "object" || Array.isArray(table)) return {};
  const props = schema.properties as Record<string, TSchema>;
  return structuredClone(Object.fromEntries(Object.entries(table).filter(([k, v]) => props[k] !== undefined && Value.Check(props[k], v))));
}

/** [api] and [alerts] read on their own, from the lines under each header: what a syntax error elsewhere leaves readable. */
function ownTables(text: string): { api?: unknown; alerts?: unknown } {
  const out: Record<string, unknown> = {};
  const lines = text.split("\n");
  for (const name of ["api", "alerts"]) {
    const start = lines.findIndex((l) => new RegExp(`^\\s*\\[\\s*${name}\\s*\\]\\s*(#.*)?$`).test(l));
    if (start < 0) continue;
    const end = lines.findIndex((l, i) => i > start && /^\s*\[/.test(l));
    try {
      out[name] = (parseToml(lines.slice(start, end < 0 ? undefined : end).join("\n")) as Record<string, unknown>)[name];
    } catch {}
  }
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

/**
 * The settings a client of the running daemon uses: where the daemon says it listens and the token file it reads (its
 * listen record, checked to be its socket: src/api/listen-record.ts), else `[api] listen` and the token file from the
 * file. After a refused move of `[api] listen` the file names an address the daemon is not at, which another program
 * may hold: it would be sent the token.
 */
export function runningDaemonSettings(file: string): ClientSettings {
  const settings = readClientSettings(file);
  const running = readListenRecord(file);
  if (!running) return settings;
  return { ...settings, api: { ...settings.api, token_file: running.token_file }, base: running.url, tokenFile: running.token_file, recorded: true };
}

/**
 * The token from the settings' token file (read at each call: the daemon creates it on its first start). For a loopback
 * `base` it is given only while what listens there is this user's, the token file owner's (a daemon run as a service
 * user) or root's: another local user who took the port while the daemon was down would otherwise be sent it.
 */
export function tokenReader(settings: Pick<ClientSettings, "api">, base?: string | null): () => string | null {
  return () => {
    const token = readApiToken({ api: settings.api });
    if (token && base) refuseForeignListener(base, tokenFile(settings));
    return token;
  };
}

/** Throws ApiError `foreign_listener` when another user's socket listens at a loopback `base`; `file` is the token file. */
export function refuseForeignListener(base: string, file: string): void {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return;
  }
  const me = process.getuid?.();
  if (me === undefined || !isLoopbackHost(url.hostname)) return;
  const uids = loopbackListenerUids(Number(url.port || (url.protocol === "https:" ? 443 : 80)));
  if (!uids) return; // the system does not say (not Linux)
  let owner = me;
  try {
    owner = statSync(file).uid;
  } catch {}
  const foreign = uids.filter((u) => u !== me && u !== owner && u !== 0);
  if (foreign.length)
    throw new ApiError(
      0,
      "foreign_listener",
      `${url.host} is held by a program of another user (uid ${foreign.join(", ")}), not by your daemon, so the API token was not sent to it; ` +
        "stop that program, or move the daemon with [api] listen",
    );
}

/** An API client with the bearer token from the settings' token file. */
export function clientFor(settings: ClientSettings, base: string, opts: Partial<ApiClientOptions> = {}): ApiClient {
  return new ApiClient({ base, token: tokenReader(settings, base), ...opts });
}

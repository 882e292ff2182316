// Carries the 1.x tunnel manager's tunnel_config.json and the 2.x tray daemon's connection_config.json into the new config (old files are only read).
import { DEFAULT_KIND, isKindName, KIND_NAMES, KINDS } from "../kinds/index.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { atomicWrite } from "./atomic-write.ts";
import { jsonErrorPosition } from "./json-error-position.ts";
import { defaultConfig, MAX_CONFIG_BYTES, readConfigText, validateConfig, type ConfigIssue } from "./load.ts";
import { legacyDir, legacyMarkerFile } from "./paths.ts";
import { renderConfig } from "./render.ts";
import type { Config } from "./schema.ts";
import type { ConfigStore, WriteResult } from "./store.ts";

export const TUNNEL_CONFIG = "tunnel_config.json";
export const CONNECTION_CONFIG = "connection_config.json";

export interface LegacySource {
  file: string;
  kind: "tunnel_config" | "connection_config";
  data: Record<string, unknown>;
}
export interface Carried {
  from: string; // "tunnel_config.json ollamaPort"
  to: string; // "upstreams[0].url"
}
export interface NotCarried {
  field: string;
  reason: string;
}
export interface PendingSecret {
  name: string;
  value: string;
  from: string;
  /** Config field that refers to the secret by name (cleared when the secret cannot be stored). */
  ref: string;
}
export interface Migration {
  sources: string[];
  config: Config;
  carried: Carried[];
  notCarried: NotCarried[];
  secrets: PendingSecret[];
  /** Legacy fields whose token was not carried and stays, in plaintext, only in the old file (the account's access token). */
  tokensLeft: string[];
}

/** Which of the two legacy files a path is, by its name or, failing that, by its keys. */
function kindOf(file: string, data: Record<string, unknown>): LegacySource["kind"] {
  if (file.endsWith(CONNECTION_CONFIG) || "local_ollama" in data || "cloud_proxy" in data) return "connection_config";
  return "tunnel_config";
}

/**
 * Reads one legacy JSON file; throws a one-sentence error naming the file. Read no further than the config limit (a
 * link to /dev/zero, a log redirected into it); a leading BOM (Windows editors) is skipped; the parser's message loses
 * what it quotes of the file, which may be a token pasted without its quotes.
 */
export function readLegacyFile(file: string): LegacySource {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (e) {
    throw new Error(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new Error(`${file}: the file is over ${MAX_CONFIG_BYTES} bytes; a 1.x/2.x config file is a few hundred (check what was written into it)`);
  let data: unknown;
  const json = text.replace(/^\uFEFF/, "");
  try {
    data = JSON.parse(json);
  } catch (e) {
    // Bun's message says what was expected, not where: the line and column are what a user needs to fix the file.
    const at = jsonErrorPosition(json);
    throw new Error(`${file}: cannot read it as JSON (${(e as Error).message.split("\n")[0]!.replace(/"[^"]*"/g, "[redacted]")}${at ? `, at line ${at.line}, column ${at.column}` : ""})`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new Error(`${file}: expected a JSON object`);
  return { file, kind: kindOf(file, data as Record<string, unknown>), data: data as Record<string, unknown> };
}

/**
 * Reads the legacy files and works out the new config. A file that cannot be read is listed as not carried and the
 * others are still migrated (a corrupt 1.x file must not cost the 2.x token); throws only when none can be read.
 */
export function planMigration(files: string[]): Migration {
  const sources: LegacySource[] = [];
  const unreadable: NotCarried[] = [];
  let first: Error | undefined;
  for (const file of files) {
    try {
      sources.push(readLegacyFile(file));
    } catch (e) {
      first ??= e as Error;
      unreadable.push({ field: basename(file), reason: `${(e as Error).message.slice(file.length + 2)}; nothing in it was carried` });
    }
  }
  if (!sources.length) throw first ?? new Error("no 1.x/2.x configuration file to migrate");
  const m = migrateLegacy(sources);
  m.notCarried.unshift(...unreadable);
  return m;
}

/** When the legacy files were migrated into `configFile` (first run or `config migrate`), or null. */
export function migratedAt(configFile: string, marker = legacyMarkerFile()): string | null {
  try {
    const at = (JSON.parse(readFileSync(marker, "utf8")) as { files?: Record<string, unknown> }).files?.[resolve(configFile)];
    return typeof at === "string" ? at : null;
  } catch {
    return null; // none yet, or unreadable: as if never migrated
  }
}

/**
 * Records that the legacy files were migrated into `configFile`: a user who deletes the config later to start over
 * gets the defaults, not the 1.x settings (and tokens) back. Best effort: a failure only means a later first run migrates again.
 */
export function markMigrated(configFile: string, now = new Date(), marker = legacyMarkerFile()): void {
  let files: Record<string, unknown> = {};
  try {
    files = (JSON.parse(readFileSync(marker, "utf8")) as { files?: Record<string, unknown> }).files ?? {};
  } catch {}
  try {
    atomicWrite(marker, JSON.stringify({ files: { ...files, [resolve(configFile)]: now.toISOString() } }, null, 2) + "\n");
  } catch {}
}

/** The legacy files present in ~/.cloudtolocalllm (or `dir`). */
export function findLegacy(dir = legacyDir()): string[] {
  return [TUNNEL_CONFIG, CONNECTION_CONFIG].map((f) => join(dir, f)).filter((f) => existsSync(f));
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : undefined);
const seconds = (v: unknown): string | undefined => {
  const n = num(v);
  return n !== undefined && n > 0 ? `${n}s` : undefined;
};
/** A TCP port as the old apps validated it (1–65535); anything else is not carried. */
const port = (v: unknown): number | undefined => {
  const n = num(v);
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
};
const hostUrl = (host: string, port: number | undefined, scheme = "http") => {
  // A URL typed into the host field: its own scheme, and its own port unless the port field says otherwise.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) {
    try {
      const u = new URL(host);
      return `${u.protocol}//${u.hostname}${port ? `:${port}` : u.port ? `:${u.port}` : ""}`;
    } catch {}
  }
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `${scheme}://${h}${port ? `:${port}` : ""}`;
};
/** The 1.x cloud's bridge endpoint for a cloud URL: wss://HOST/ws/bridge. */
export function bridgeUrl(cloudUrl: string): string | undefined {
  try {
    // A bare host ("app.cloudtolocalllm.online") is the https cloud it names.
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(cloudUrl) ? cloudUrl : `https://${cloudUrl}`);
    if (!["http:", "https:", "ws:", "wss:"].includes(u.protocol) || !u.hostname) return undefined;
    if (u.pathname.startsWith("/ws/")) return `${u.protocol.replace(/^http/, "ws")}//${u.host}${u.pathname}`;
    return `${u.protocol === "http:" || u.protocol === "ws:" ? "ws" : "wss"}://${u.host}/ws/bridge`;
  } catch {
    return undefined;
  }
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let o: Record<string, unknown> = obj;
  parts.slice(0, -1).forEach((p, i) => {
    if (o[p] === undefined) o[p] = /^\d+$/.test(parts[i + 1]!) ? [] : {};
    o = o[p] as Record<string, unknown>;
  });
  o[parts.at(-1)!] = value;
}
function getPath(obj: Record<string, unknown>, path: string): unknown {
  let o: unknown = obj;
  for (const p of path.replace(/\[(\d+)\]/g, ".$1").split(".")) {
    if (!o || typeof o !== "object") return undefined;
    o = (o as Record<string, unknown>)[p];
  }
  return o;
}
function deletePath(obj: Record<string, unknown>, path: string): boolean {
  const parts = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let o: unknown = obj;
  for (const p of parts.slice(0, -1)) {
    if (!o || typeof o !== "object") return false;
    o = (o as Record<string, unknown>)[p];
  }
  if (!o || typeof o !== "object" || !(parts.at(-1)! in o)) return false;
  delete (o as Record<string, unknown>)[parts.at(-1)!];
  return true;
}

/**
 * When `token` is a JWT with an expiry (2.x kept the account's Auth0 access token there), that expiry, else null. The
 * tunnel prefers a stored agent token to the account's, so a stored access token would be used, and refused, for good
 * once expired (the 1.x "JWT never refreshed" defect); a sign-in gives the tunnel a token that is refreshed.
 */
function jwtExpiry(token: string): Date | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as { exp?: unknown };
    const exp = typeof payload?.exp === "number" ? new Date(payload.exp * 1000) : null;
    return exp && !Number.isNaN(exp.getTime()) ? exp : null;
  } catch {
    return null; // not a JWT (an opaque agent token): stored as it is
  }
}

/**
 * 1.x tunnel_config.json's defaults (its TunnelConfig constructor) for the fields whose new setting has another default.
 * 1.x wrote every field to the file, so a file holds these whether or not the user ever chose them: a value equal to the
 * 1.x default was never the user's choice, and the new default stands (the field is listed); any other value is carried.
 */
const LEGACY_DEFAULTS: Record<string, { value: number; to: string; why?: string }> = {
  connectionTimeout: { value: 30, to: "upstreams[0].connect_timeout" },
  // 1.x's requestTimeout bounded the whole request; the new bound is on the first byte, whose default leaves a large
  // model time to load. A 60 s first-byte bound would fail cold loads, and a few in a row take the upstream down.
  requestTimeout: { value: 60, to: "upstreams[0].first_byte_timeout", why: "a bound on the whole request; the new bound is on the first byte only, and its default" },
  healthCheckInterval: { value: 30, to: "health.interval" },
  maxRetries: { value: 5, to: "health.failures_before_down" },
  retryDelay: { value: 2, to: "tunnel.backoff.initial" },
};

/** The 1.x cloud's web app, on the 1.x default allowedOrigins. */
const LEGACY_CLOUD_ORIGIN = "https://app.cloudtolocalllm.online";
const originOf = (url: string): string => {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`).origin;
  } catch {
    return url;
  }
};

const TUNNEL_KEYS = new Set([
  "enableLocalOllama", "ollamaHost", "ollamaPort", "connectionTimeout", "enableCloudProxy", "cloudProxyUrl", "cloudProxyAudience",
  "apiServerPort", "enableApiServer", "allowedOrigins", "healthCheckInterval", "maxRetries", "retryDelay", "connectionPoolSize",
  "requestTimeout", "enableMetrics", "minimizeToTray", "startMinimized", "showNotifications", "logLevel", "autoStartTunnel", "autoStartOnBoot",
]);
const CONNECTION_KEYS = new Set(["connection_type", "host", "port", "api_base_url", "auth_token", "timeout", "enabled"]);

/**
 * The fields of a legacy file that nothing above carried or listed: a value the new setting cannot take (a port of 0,
 * a number where a token belongs). Named by their type only, as the value may be a token. null and "" are unset.
 */
function unused(src: LegacySource, said: string[]): { name: string; reason: string }[] {
  const file = src.kind === "tunnel_config" ? TUNNEL_CONFIG : CONNECTION_CONFIG;
  const fields: [string, string, unknown][] = [];
  if (src.kind === "tunnel_config") for (const [k, v] of Object.entries(src.data)) fields.push(["", k, v]);
  else
    for (const section of ["local_ollama", "cloud_proxy"]) {
      const o = src.data[section];
      if (o && typeof o === "object" && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) fields.push([`${section}.`, k, v]);
      else if (o !== undefined) fields.push(["", section, o]);
    }
  const typeOf = (v: unknown) => (Array.isArray(v) ? "an array" : v === null ? "null" : `a ${typeof v}`);
  const escape = (k: string) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return fields
    .filter(([prefix, k, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length) && !said.some((x) => x.startsWith(`${file} ${prefix}`) && new RegExp(`(^|[\\s,"])${escape(k)}($|[\\s,"])`).test(x.slice(file.length + 1 + prefix.length))))
    .map(([prefix, k, v]) => ({ name: `${file} ${prefix}${k}`, reason: `its value (${typeOf(v)}) is not one the new setting takes; the default is kept` }));
}

/** Works out the new config from the legacy files. Pure: nothing is written and no secret is stored. */
export function migrateLegacy(sources: LegacySource[]): Migration {
  const raw: Record<string, unknown> = {};
  const carried: Carried[] = [];
  const notCarried: NotCarried[] = [];
  const secrets: PendingSecret[] = [];
  const tokensLeft: string[] = [];
  const origin = new Map<string, string>(); // config path → legacy field it came from
  const values = new Map<string, string>(); // config path → JSON of the value set
  const set = (to: string, value: unknown, from: string) => {
    const prev = origin.get(to);
    const same = values.get(to) === JSON.stringify(value);
    if (prev && !prev.startsWith(from.split(" ")[0]!) && !same) notCarried.push({ field: prev, reason: `superseded by ${from}` });
    values.set(to, JSON.stringify(value));
    setPath(raw, to, value);
    origin.set(to, from);
    // The same value from both files: both were carried (dropping the first would leave it unaccounted for).
    if (!same) for (const c of carried.filter((c) => c.to === to && c.from === prev)) carried.splice(carried.indexOf(c), 1);
    carried.push({ from, to });
  };
  const drop = (field: string, reason: string) => notCarried.push({ field, reason });
  const local = "upstreams[0]";
  const localBase = () => {
    if (!raw.upstreams) setPath(raw, local, { name: "local", kind: DEFAULT_KIND, url: KINDS[DEFAULT_KIND].defaultUrl });
  };

  for (const src of sources.filter((s) => s.kind === "tunnel_config")) {
    const d = src.data;
    const f = (k: string) => `${TUNNEL_CONFIG} ${k}`;
    for (const k of Object.keys(d)) if (!TUNNEL_KEYS.has(k)) drop(f(k), "unknown field");
    localBase();
    const host = str(d.ollamaHost);
    const p = port(d.ollamaPort);
    if (host || p !== undefined) set(`${local}.url`, hostUrl(host ?? "localhost", p ?? 11434), f(p !== undefined ? "ollamaHost, ollamaPort" : "ollamaHost"));
    if (bool(d.enableLocalOllama) !== undefined) set(`${local}.enabled`, bool(d.enableLocalOllama), f("enableLocalOllama"));
    // A field at its 1.x default is listed and left out: the new default stands.
    const chosen = (k: string): boolean => {
      const old = LEGACY_DEFAULTS[k]!;
      if (num(d[k]) !== old.value) return true;
      const now = String(getPath(defaultConfig() as unknown as Record<string, unknown>, old.to));
      drop(f(k), old.why ? `${old.value} is the 1.x default, ${old.why} (${now}) leaves a large model time to load` : `${old.value} is the 1.x default (1.x wrote every field, chosen or not); the new default (${now}) stands`);
      return false;
    };
    if (chosen("connectionTimeout") && seconds(d.connectionTimeout)) set(`${local}.connect_timeout`, seconds(d.connectionTimeout), f("connectionTimeout"));
    if (chosen("requestTimeout") && seconds(d.requestTimeout)) set(`${local}.first_byte_timeout`, seconds(d.requestTimeout), f("requestTimeout"));
    if (chosen("healthCheckInterval") && seconds(d.healthCheckInterval)) set("health.interval", seconds(d.healthCheckInterval), f("healthCheckInterval"));
    if (chosen("maxRetries") && num(d.maxRetries) !== undefined) set("health.failures_before_down", Math.max(1, Math.round(num(d.maxRetries)!)), f("maxRetries"));
    if (chosen("retryDelay") && seconds(d.retryDelay)) {
      set("tunnel.backoff.initial", seconds(d.retryDelay), f("retryDelay"));
      if (num(d.retryDelay)! > 60) setPath(raw, "tunnel.backoff.max", seconds(d.retryDelay));
    }
    const cloud = str(d.cloudProxyUrl);
    if (cloud) {
      const relay = bridgeUrl(cloud);
      if (relay) {
        set("tunnel.relay_url", relay, f("cloudProxyUrl"));
        setPath(raw, "tunnel.protocol", "bridge-v1");
      } else drop(f("cloudProxyUrl"), "it is not a URL (expected https://HOST); the value is not quoted here, as it may hold a token");
    }
    const enabled = bool(d.enableCloudProxy);
    const auto = bool(d.autoStartTunnel);
    if (enabled !== undefined || auto !== undefined) set("tunnel.enabled", (enabled ?? true) && (auto ?? true), f("enableCloudProxy, autoStartTunnel"));
    if (str(d.cloudProxyAudience)) set("auth.audience", str(d.cloudProxyAudience), f("cloudProxyAudience"));
    if (port(d.apiServerPort) !== undefined) set("api.listen", `127.0.0.1:${port(d.apiServerPort)}`, f("apiServerPort") + " (now loopback only)");
    if ("enableApiServer" in d) drop(f("enableApiServer"), "the control API always runs, on loopback and behind a token");
    if (Array.isArray(d.allowedOrigins)) {
      const origins = d.allowedOrigins.filter((o): o is string => typeof o === "string");
      // The 1.x cloud's own web app was on that list by default, for the 1.x API this version does not serve: carried,
      // it would only let that site (and whoever holds its domain later) read this daemon's status without a token.
      const cloudOrigins = new Set([LEGACY_CLOUD_ORIGIN, ...(str(d.cloudProxyUrl) ? [originOf(str(d.cloudProxyUrl)!)] : [])]);
      for (const o of origins.filter((o) => cloudOrigins.has(originOf(o))))
        drop(`${f("allowedOrigins")} ${JSON.stringify(o)}`, "the 1.x cloud's web app called the 1.x API, which is gone; allowing it would let that site read this daemon's status (add it to [api] allowed_origins yourself if you need it)");
      const exact = origins.filter((o) => !o.includes("*") && !cloudOrigins.has(originOf(o)));
      if (exact.length) set("api.allowed_origins", exact, f("allowedOrigins"));
      for (const o of origins.filter((o) => o.includes("*")))
        drop(`${f("allowedOrigins")} ${JSON.stringify(o)}`, "wildcard origins are not accepted; the API's own origin is always allowed");
    }
    if ("connectionPoolSize" in d) drop(f("connectionPoolSize"), "connections are pooled automatically");
    if ("enableMetrics" in d) drop(f("enableMetrics"), "metrics are always collected (/metrics, /api/v1/metrics)");
    if (bool(d.showNotifications) !== undefined) set("alerts.notifications", bool(d.showNotifications), f("showNotifications"));
    const level = str(d.logLevel)?.toLowerCase().replace(/^warning$/, "warn");
    if (level && ["debug", "info", "warn", "error"].includes(level)) set("logging.level", level, f("logLevel"));
    else if ("logLevel" in d) drop(f("logLevel"), `${JSON.stringify(d.logLevel)} is not a log level`);
    for (const k of ["minimizeToTray", "startMinimized"]) if (k in d) drop(f(k), "there is no main window any more: the daemon shows the tray icon itself");
    if ("autoStartOnBoot" in d) drop(f("autoStartOnBoot"), "start at login with `cloudtolocalllm-tunnel install` (systemd user service)");
  }

  for (const src of sources.filter((s) => s.kind === "connection_config")) {
    const d = src.data;
    for (const k of Object.keys(d)) if (k !== "local_ollama" && k !== "cloud_proxy") drop(`${CONNECTION_CONFIG} ${k}`, "unknown field");
    const lo = d.local_ollama as Record<string, unknown> | undefined;
    if (lo && typeof lo === "object") {
      const f = (k: string) => `${CONNECTION_CONFIG} local_ollama.${k}`;
      for (const k of Object.keys(lo)) if (!CONNECTION_KEYS.has(k)) drop(f(k), "unknown field");
      localBase();
      const base = str(lo.api_base_url);
      if (base && (str(lo.host) || port(lo.port) !== undefined)) drop(f("host, port"), "the URL is taken from api_base_url");
      if (base) set(`${local}.url`, base.replace(/\/+$/, "").replace(/\/api$/, ""), f("api_base_url"));
      else if (str(lo.host) || port(lo.port) !== undefined) set(`${local}.url`, hostUrl(str(lo.host) ?? "localhost", port(lo.port) ?? 11434), f(port(lo.port) !== undefined ? "host, port" : "host"));
      const type = str(lo.connection_type)?.toLowerCase();
      // "local" is the 2.x tray's name for the local Ollama.
      if (isKindName(type) || type === "local") set(`${local}.kind`, type === "local" ? DEFAULT_KIND : type, f("connection_type"));
      else if (type) drop(f("connection_type"), `${JSON.stringify(lo.connection_type)} is not an upstream kind (${KIND_NAMES.join(", ")})`);
      if (seconds(lo.timeout)) set(`${local}.connect_timeout`, seconds(lo.timeout), f("timeout"));
      if (bool(lo.enabled) !== undefined) set(`${local}.enabled`, bool(lo.enabled), f("enabled"));
      const token = str(lo.auth_token);
      if (token) {
        secrets.push({ name: "upstream-local", value: token, from: f("auth_token"), ref: `${local}.auth_secret` });
        setPath(raw, `${local}.auth_secret`, "upstream-local");
      }
    }
    const cp = d.cloud_proxy as Record<string, unknown> | undefined;
    if (cp && typeof cp === "object") {
      const f = (k: string) => `${CONNECTION_CONFIG} cloud_proxy.${k}`;
      for (const k of Object.keys(cp)) if (!CONNECTION_KEYS.has(k)) drop(f(k), "unknown field");
      const base = str(cp.api_base_url) ?? (str(cp.host) ? hostUrl(str(cp.host)!, port(cp.port), "https") : undefined);
      if (str(cp.api_base_url) && (str(cp.host) || port(cp.port) !== undefined)) drop(f("host, port"), "the cloud URL is taken from api_base_url");
      if (base && !origin.has("tunnel.relay_url")) {
        const relay = bridgeUrl(base);
        if (relay) {
          set("tunnel.relay_url", relay, f(str(cp.api_base_url) ? "api_base_url" : "host, port"));
          setPath(raw, "tunnel.protocol", "bridge-v1");
        } else drop(f(str(cp.api_base_url) ? "api_base_url" : "host, port"), "it is not a URL (expected https://HOST); the value is not quoted here, as it may hold a token");
      } else if (base) drop(f("api_base_url"), `the relay URL comes from ${origin.get("tunnel.relay_url")}`);
      if (bool(cp.enabled) !== undefined) set("tunnel.enabled", bool(cp.enabled), f("enabled"));
      if ("timeout" in cp) drop(f("timeout"), "the tunnel detects dead connections with heartbeats ([tunnel.heartbeat])");
      if ("connection_type" in cp) drop(f("connection_type"), "the tunnel's protocol is set by tunnel.protocol");
      const token = str(cp.auth_token);
      const exp = token ? jwtExpiry(token) : null;
      if (exp !== null) {
        tokensLeft.push(f("auth_token"));
        drop(f("auth_token"), `it is the account's access token (a JWT that ${exp.getTime() <= Date.now() ? "expired" : "expires"} on ${exp.toISOString().slice(0, 10)}); stored as the agent token it would stay in use after that and shadow the refreshed token of a sign-in: sign in with \`cloudtolocalllm-tunnel login\` instead`);
      } else if (token) secrets.push({ name: "tunnel-token", value: token, from: f("auth_token"), ref: "tunnel.token_secret" });
    }
  }

  for (const src of sources) unused(src, [...carried.map((c) => c.from), ...notCarried.map((n) => n.field), ...secrets.map((x) => x.from)]).forEach((field) => drop(field.name, field.reason));

  // The tunnel cannot be on without a relay.
  const t = raw.tunnel as Record<string, unknown> | undefined;
  if (t?.enabled === true && !t.relay_url) {
    t.enabled = false;
    drop(origin.get("tunnel.enabled") ?? "tunnel.enabled", "no cloud URL to connect to, so the tunnel stays off");
  }

  // Whatever the new schema rejects falls back to its default, and is listed.
  for (let round = 0; round < 10; round++) {
    const r = validateConfig(structuredClone(raw), "migration");
    if (r.ok) return { sources: sources.map((s) => s.file), config: r.config, carried, notCarried, secrets, tokensLeft };
    let removed = false;
    for (const issue of r.issues as ConfigIssue[]) {
      // Back to the default where there is one (a required key such as upstreams[0].url), else simply left out.
      const fallback = getPath(defaultConfig() as unknown as Record<string, unknown>, issue.path);
      if (getPath(raw, issue.path) !== undefined && (fallback !== undefined ? (setPath(raw, issue.path, fallback), true) : deletePath(raw, issue.path))) {
        removed = true;
        const from = origin.get(issue.path) ?? issue.path;
        notCarried.push({ field: from, reason: issue.message });
        const i = carried.findIndex((c) => c.to === issue.path);
        if (i >= 0) carried.splice(i, 1);
      }
    }
    if (!removed) break;
  }
  throw new Error(`the legacy configuration could not be converted: ${validateConfig(raw).ok ? "" : "invalid values remain"}`);
}

/** The migrated config as commented TOML, with a header saying where it came from and what was left behind. */
export function renderMigration(m: Migration, now = new Date()): string {
  const header = [
    `Migrated on ${now.toISOString()} from ${m.sources.join(" and ")} (those files were left as they were).`,
    ...(m.notCarried.length ? ["Not carried over:", ...m.notCarried.map((n) => `  - ${n.field}: ${n.reason}`)] : []),
  ];
  return renderConfig(m.config, { comments: true, header });
}

/**
 * The legacy files that still hold a token in plaintext that nothing needs any more: one now in the secret store, or the
 * account's access token that was not carried (a sign-in replaces it). They are only read, never changed, so the user
 * is told (by path and mode, never the value) to remove them once the old app is gone. A token that could not be
 * stored is not counted: the file is where the user copies it from.
 */
export function plaintextLeftBehind(m: Migration, stored: string[]): string[] {
  const fileOf = (from: string) => from.split(" ")[0]!;
  const storedIn = new Set(m.secrets.filter((s) => stored.includes(s.name)).map((s) => fileOf(s.from)));
  const leftIn = new Set(m.tokensLeft.map(fileOf));
  return m.sources
    .filter((f) => storedIn.has(basename(f)) || leftIn.has(basename(f)))
    .map((f) => {
      let mode = "";
      try {
        const bits = statSync(f).mode & 0o777;
        mode = ` (mode ${bits.toString(8).padStart(4, "0")}${bits & 0o044 ? ", readable by other users" : ""})`;
      } catch {}
      const what = !leftIn.has(basename(f)) ? "the token" : storedIn.has(basename(f)) ? "tokens" : "the account's access token, which was not carried,";
      return `${f} still holds ${what} in plaintext${mode}: delete it once the 1.x/2.x app is gone (it was only read)`;
    });
}

export interface AppliedMigration {
  result: WriteResult;
  migration: Migration;
  storedSecrets: string[];
  text: string;
}

/**
 * Stores the legacy tokens in the secret store (never in the TOML) and writes the new config through the store.
 * Without a secret store the tokens are left behind and listed; the config then does not refer to them.
 */
/** Where migrated tokens go: the secret store (src/secrets), seen from here only as what this needs of it. */
export interface SecretSink {
  readonly backend: string;
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
}

export async function applyMigration(m: Migration, store: ConfigStore, secrets?: SecretSink | null): Promise<AppliedMigration> {
  const storedSecrets: string[] = [];
  for (const s of m.secrets) {
    let reason: string | null = null;
    if (secrets) {
      try {
        // A value stored since (`secret set`, a sign-in, an earlier migration of other files) is newer than the
        // legacy token: it is kept, never overwritten (the store keeps no backup of it).
        const current = await secrets.get(s.name);
        if (current !== null && current !== s.value) {
          m.notCarried.push({ field: s.from, reason: `the secret "${s.name}" already holds another value, which was kept (to use the old token instead: \`cloudtolocalllm-tunnel secret set ${s.name}\`)` });
          continue;
        }
        await secrets.set(s.name, s.value);
        storedSecrets.push(s.name);
        m.carried.push({ from: s.from, to: `secret "${s.name}" (${secrets.backend})` });
        continue;
      } catch (e) {
        reason = `could not be stored in the secret store (${(e as Error).message})`;
      }
    }
    m.notCarried.push({ field: s.from, reason: reason ?? `no secret store available; set it with \`cloudtolocalllm-tunnel secret set ${s.name}\` or sign in again` });
    if (s.ref !== "tunnel.token_secret") deletePath(m.config as unknown as Record<string, unknown>, s.ref);
    if (s.ref !== "tunnel.token_secret") setPath(m.config as unknown as Record<string, unknown>, s.ref, "");
  }
  const text = renderMigration(m);
  return { result: store.write(text), migration: m, storedSecrets, text };
}

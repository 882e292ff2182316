// Flags unknown keys of a parsed config with a suggestion and applies the rules a schema can't express (schema-issues.ts names the schema's own errors).
import type { TSchema } from "@sinclair/typebox";
import type { Config } from "./schema.ts";
import { CONFIG_SCHEMA } from "./config-check.generated.ts";
import { durationMs } from "./duration.ts";
import { durationFloorIssues } from "./duration-floors.ts";
import { splitListen } from "./listen.ts";
import { redactUrl } from "../net/redact-url.ts";
import { hostSet, isLoopbackHost } from "../net/host.ts";
import { suggest } from "./suggest.ts";
import { hideCredentials } from "./inline-secrets.ts";
import { suggestAgentUrl } from "../net/cloud-url.ts";

export { editDistance, suggest } from "./suggest.ts";

export interface FieldIssue {
  path: string; // "upstreams[0].url"; "" for the file as a whole
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
export const show = (v: unknown) => {
  // A quoted value may be a URL with credentials: messages reach logs, events and status, so it is shown redacted.
  // So may a credential pasted into the wrong field: hidden too.
  const s = typeof v === "string" ? JSON.stringify(hideCredentials(redactUrl(v))) : v === undefined ? "nothing" : isPlainObject(v) ? "a table" : Array.isArray(v) ? "a list" : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}..."` : s;
};

export const joinPath = (base: string, key: string) => (base ? `${base}.${key}` : key);

/** Keys the schema does not know (with the closest known key at that level), and tables written where a list belongs. */
export function structureIssues(raw: unknown, schema: TSchema = CONFIG_SCHEMA, path = ""): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (schema.type === "object" && schema.properties && isPlainObject(raw)) {
    const known = Object.keys(schema.properties);
    for (const [k, v] of Object.entries(raw)) {
      // Own keys only: `constructor`, `toString` or `__proto__` are not settings because every object inherits them.
      const sub = Object.hasOwn(schema.properties, k) ? (schema.properties[k] as TSchema) : undefined;
      if (sub) {
        out.push(...structureIssues(v, sub, joinPath(path, k)));
        continue;
      }
      if (schema.additionalProperties !== false) continue;
      const hint = suggest(k, known);
      const message =
        !path && isPlainObject(v)
          ? `unknown section [${hideCredentials(k)}]${hint ? ` (did you mean [${hint}]?)` : ""}`
          : `unknown key "${hideCredentials(k)}" ${path ? `in [${path.replace(/\[\d+\]$/, "")}]` : "at the top level"}${hint ? ` (did you mean "${hint}"?)` : ""}`;
      out.push({ path: joinPath(path, k), message });
    }
  } else if (schema.type === "array" && schema.items && Array.isArray(raw)) {
    raw.forEach((v, i) => out.push(...structureIssues(v, schema.items as TSchema, `${path}[${i}]`)));
  } else if (schema.type === "array" && raw !== undefined && !Array.isArray(raw)) {
    // TypeBox's Default would quietly swap a table for the default list, so this is checked before defaults.
    const tables = (schema.items as TSchema | undefined)?.type === "object";
    out.push({ path, message: tables && isPlainObject(raw) ? `expected a list of tables: write [[${path}]] (two brackets) for each entry` : `expected a list, got ${show(raw)}` });
  }
  return out;
}

export function urlHint(path: string): string {
  return path === "tunnel.relay_url" ? "expected wss:// or ws://" : "expected http:// or https://";
}

/** A relay_url that is a web address, not the agent's WebSocket URL: say which URL was most likely meant. */
export function relayUrlMessage(v: unknown): string {
  // No advice made from a credential pasted here: the URL it would suggest folds its host to lower case, which the
  // redaction no longer recognises, and the key's case is all that is left to guess.
  const hint = typeof v === "string" && hideCredentials(v) === v ? suggestAgentUrl(v) : null;
  return hint ? `${show(v)} is not a relay agent URL: use ${show(hint)} (wss:// or ws://, the relay's agent path)` : `${show(v)} is not a URL (${urlHint("tunnel.relay_url")})`;
}

/** A ws:// relay URL whose host is not this machine: the agent's token (in the upgrade's Authorization) would cross the network in cleartext. */
function plaintextToAnotherMachine(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "ws:" && !isLoopbackHost(u.hostname);
}

function plaintextRelayMessage(url: string): string {
  const u = new URL(url);
  return `ws://${u.host} is not encrypted: the agent token and every prompt and answer would cross the network in cleartext; use wss://${u.host}${u.pathname} (the relay's [tls], or a TLS proxy in front of it), or set [tunnel] allow_plaintext_relay = true for a network you trust end to end`;
}

/** Rules across fields, checked on a config that already passed the schema. */
export function semanticIssues(c: Config): FieldIssue[] {
  const out: FieldIssue[] = [];
  const firstByName = new Map<string, number>();
  c.upstreams.forEach((u, i) => {
    const prev = firstByName.get(u.name);
    if (prev !== undefined) out.push({ path: `upstreams[${i}].name`, message: `"${u.name}" is already the name of upstreams[${prev}] (names must be unique)` });
    else firstByName.set(u.name, i);
    if (!/^https?:$/.test(new URL(u.url).protocol)) out.push({ path: `upstreams[${i}].url`, message: `${show(u.url)} is not a URL (expected http:// or https://)` });
    const tlsField = u.ca_file ? "ca_file" : u.tls_insecure ? "tls_insecure" : null;
    if (tlsField && new URL(u.url).protocol !== "https:") out.push({ path: `upstreams[${i}].${tlsField}`, message: `is only used with an https:// URL (url is ${show(u.url)})` });
    if (u.ca_file && u.tls_insecure) out.push({ path: `upstreams[${i}].tls_insecure`, message: "turns certificate checks off, so ca_file would not be used: set one of them" });
  });
  const aliasAt = new Map<string, number>();
  c.aliases.forEach((a, i) => {
    const prev = aliasAt.get(a.name);
    if (prev !== undefined) out.push({ path: `aliases[${i}].name`, message: `"${a.name}" is already the name of aliases[${prev}] (names must be unique)` });
    else aliasAt.set(a.name, i);
    if (a.model === a.name) out.push({ path: `aliases[${i}].model`, message: `"${a.name}" stands for itself (model must name another model)` });
  });
  c.aliases.forEach((a, i) => {
    // One step only: an alias of an alias would make the model a request reaches depend on the order of the list.
    if (a.model !== a.name && aliasAt.has(a.model)) out.push({ path: `aliases[${i}].model`, message: `"${a.model}" is itself an alias; name the model it stands for` });
  });
  if (c.tunnel.enabled && !c.tunnel.relay_url) out.push({ path: "tunnel.enabled", message: "the tunnel is enabled but tunnel.relay_url is empty (set the relay URL or enabled = false)" });
  if (c.tunnel.relay_url && !/^wss?:$/.test(new URL(c.tunnel.relay_url).protocol))
    out.push({ path: "tunnel.relay_url", message: relayUrlMessage(c.tunnel.relay_url) });
  else if (c.tunnel.relay_url && !c.tunnel.allow_plaintext_relay && plaintextToAnotherMachine(c.tunnel.relay_url))
    out.push({ path: "tunnel.relay_url", message: plaintextRelayMessage(c.tunnel.relay_url) });
  const api = splitListen(c.api.listen);
  const proxy = splitListen(c.proxy.listen);
  if (c.proxy.enabled && api.port !== 0 && api.port === proxy.port && sameSocketHost(api.hostname, proxy.hostname))
    out.push({ path: "proxy.listen", message: `${show(c.proxy.listen)} is the same address as api.listen (use another port)` });
  if (durationMs(c.tunnel.backoff.max) < durationMs(c.tunnel.backoff.initial))
    out.push({ path: "tunnel.backoff.max", message: `${show(c.tunnel.backoff.max)} is shorter than tunnel.backoff.initial (${c.tunnel.backoff.initial})` });
  if (durationMs(c.tunnel.heartbeat.tolerance) <= durationMs(c.tunnel.heartbeat.interval))
    out.push({ path: "tunnel.heartbeat.tolerance", message: `${show(c.tunnel.heartbeat.tolerance)} must be longer than tunnel.heartbeat.interval (${c.tunnel.heartbeat.interval})` });
  // A health check every millisecond, a timeout of "0s": the floors the schema gives them.
  out.push(...durationFloorIssues(CONFIG_SCHEMA, c));
  if (c.quality.good_error_rate > c.quality.critical_error_rate)
    out.push({ path: "quality.good_error_rate", message: `${c.quality.good_error_rate} is above quality.critical_error_rate (${c.quality.critical_error_rate})` });
  if (c.quality.good_latency_ms > c.quality.poor_latency_ms)
    out.push({ path: "quality.good_latency_ms", message: `${c.quality.good_latency_ms} is above quality.poor_latency_ms (${c.quality.poor_latency_ms})` });
  return out;
}

/** The wildcard addresses, canonical: IPv4's, and IPv6's, which (dual-stack, as Linux binds it) also takes IPv4. */
const [ANY_V4, ANY_V6] = [...hostSet(["0.0.0.0"]), ...hostSet(["::"])];

/**
 * Whether two listen hosts on one port would be the same socket: one spelling of one address ("[::1]" and
 * "[0:0:0:0:0:0:0:1]"), or a wildcard beside anything (0.0.0.0, and [::], which takes IPv4 as well).
 */
function sameSocketHost(a: string, b: string): boolean {
  const x = [...hostSet([a])][0] ?? a.toLowerCase();
  const y = [...hostSet([b])][0] ?? b.toLowerCase();
  return x === y || x === ANY_V4 || y === ANY_V4 || x === ANY_V6 || y === ANY_V6;
}

/** Older name of structureIssues(), still used by the relay's config. */
export const unknownKeys = structureIssues;

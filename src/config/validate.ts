// Checks a parsed config against the schema with human messages, flags unknown keys with a suggestion, and applies the rules TypeBox can't express.
import { Value, ValueErrorType, type ValueError } from "@sinclair/typebox/value";
import type { TSchema } from "@sinclair/typebox";
import { ConfigSchema, DURATION_PATTERN, type Config } from "./schema.ts";
import { durationMs } from "./duration.ts";
import { splitListen } from "./listen.ts";
import { redactUrl } from "../net/redact-url.ts";
import { suggest } from "./suggest.ts";
import { suggestAgentUrl } from "../net/cloud-url.ts";

export { editDistance, suggest } from "./suggest.ts";

export interface FieldIssue {
  path: string; // "upstreams[0].url"; "" for the file as a whole
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
const show = (v: unknown) => {
  // A quoted value may be a URL with credentials: messages reach logs, events and status, so it is shown redacted.
  const s = typeof v === "string" ? JSON.stringify(redactUrl(v)) : v === undefined ? "nothing" : isPlainObject(v) ? "a table" : Array.isArray(v) ? "a list" : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}..."` : s;
};

const joinPath = (base: string, key: string) => (base ? `${base}.${key}` : key);

/** Keys the schema does not know (with the closest known key at that level), and tables written where a list belongs. */
export function structureIssues(raw: unknown, schema: TSchema = ConfigSchema, path = ""): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (schema.type === "object" && schema.properties && isPlainObject(raw)) {
    const known = Object.keys(schema.properties);
    for (const [k, v] of Object.entries(raw)) {
      const sub = schema.properties[k] as TSchema | undefined;
      if (sub) {
        out.push(...structureIssues(v, sub, joinPath(path, k)));
        continue;
      }
      if (schema.additionalProperties !== false) continue;
      const hint = suggest(k, known);
      const message =
        !path && isPlainObject(v)
          ? `unknown section [${k}]${hint ? ` (did you mean [${hint}]?)` : ""}`
          : `unknown key "${k}" ${path ? `in [${path.replace(/\[\d+\]$/, "")}]` : "at the top level"}${hint ? ` (did you mean "${hint}"?)` : ""}`;
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

function typeName(schema: TSchema): string {
  switch (schema.type) {
    case "integer":
      return "a whole number";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "string":
      return "a string";
    case "array":
      return "a list";
    case "object":
      return "a table";
    default:
      return "a value";
  }
}

function urlHint(path: string): string {
  return path === "tunnel.relay_url" ? "expected wss:// or ws://" : "expected http:// or https://";
}

/** A relay_url that is a web address, not the agent's WebSocket URL: say which URL was most likely meant. */
function relayUrlMessage(v: unknown): string {
  const hint = typeof v === "string" ? suggestAgentUrl(v) : null;
  return hint ? `${show(v)} is not a relay agent URL: use ${show(hint)} (wss:// or ws://, the relay's agent path)` : `${show(v)} is not a URL (${urlHint("tunnel.relay_url")})`;
}

/** One sentence for one TypeBox error, naming the value and what was expected. */
function humanMessage(e: ValueError, path: string): string {
  const s = e.schema as TSchema;
  const v = e.value;
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `missing required key "${path.split(".").pop()}"`;
    case ValueErrorType.StringFormat:
    case ValueErrorType.StringPattern:
      if (s.format === "c2l-duration" || s.pattern === DURATION_PATTERN) return `${show(v)} is not a duration (use e.g. 250ms, 30s, 5m, 1h)`;
      if (path === "tunnel.relay_url") return relayUrlMessage(v);
      if (s.format === "c2l-url" || s.format === "c2l-url-or-empty") return `${show(v)} is not a URL (${urlHint(path)})`;
      if (s.format === "c2l-listen") {
        try {
          splitListen(String(v));
        } catch (err) {
          const m = (err as Error).message;
          return m.startsWith("port") ? `${show(v)}: ${m}` : `${show(v)} is not a listen address (use host:port, e.g. 127.0.0.1:8765)`;
        }
      }
      if (path.endsWith(".name")) return `${show(v)} is not a valid name (letters, digits, "_", "." and "-", starting with a letter or digit)`;
      return `${show(v)} does not have the expected form (${s.pattern ?? s.format})`;
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? "must not be empty" : `must be at least ${s.minLength} characters`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${s.maxLength} characters`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `${show(v)} is below the minimum ${s.minimum}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `${show(v)} is above the maximum ${s.maximum}`;
    case ValueErrorType.Union: {
      const options = ((s.anyOf ?? []) as TSchema[]).map((o) => o.const).filter((c) => c !== undefined);
      if (options.length) return `${show(v)} is not one of ${options.map(show).join(", ")}`;
      return `${show(v)} is not an allowed value`;
    }
    case ValueErrorType.ArrayMinItems:
      return `needs at least ${s.minItems} item${s.minItems === 1 ? "" : "s"}`;
    case ValueErrorType.ArrayMaxItems:
      return `allows at most ${s.maxItems} items`;
    default:
      return `expected ${typeName(s)}, got ${show(v)}`;
  }
}

/** Schema errors as human sentences, one per field (unknown keys are reported by structureIssues()). */
export function schemaIssues(withDefaults: unknown, schema: TSchema = ConfigSchema): FieldIssue[] {
  const seen = new Set<string>();
  const out: FieldIssue[] = [];
  for (const e of Value.Errors(schema, withDefaults)) {
    if (e.type === ValueErrorType.ObjectAdditionalProperties) continue;
    const path = e.path
      .replace(/^\//, "")
      .split("/")
      .filter(Boolean)
      .map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((p, seg) => (/^\d+$/.test(seg) ? `${p}[${seg}]` : joinPath(p, seg)), "");
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ path, message: humanMessage(e, path) });
  }
  return out;
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
  const api = splitListen(c.api.listen);
  const proxy = splitListen(c.proxy.listen);
  if (c.proxy.enabled && api.port !== 0 && api.port === proxy.port && (api.hostname === proxy.hostname || api.hostname === "0.0.0.0" || proxy.hostname === "0.0.0.0"))
    out.push({ path: "proxy.listen", message: `${show(c.proxy.listen)} is the same address as api.listen (use another port)` });
  if (durationMs(c.tunnel.backoff.max) < durationMs(c.tunnel.backoff.initial))
    out.push({ path: "tunnel.backoff.max", message: `${show(c.tunnel.backoff.max)} is shorter than tunnel.backoff.initial (${c.tunnel.backoff.initial})` });
  if (durationMs(c.tunnel.heartbeat.tolerance) <= durationMs(c.tunnel.heartbeat.interval))
    out.push({ path: "tunnel.heartbeat.tolerance", message: `${show(c.tunnel.heartbeat.tolerance)} must be longer than tunnel.heartbeat.interval (${c.tunnel.heartbeat.interval})` });
  if (c.quality.good_error_rate > c.quality.critical_error_rate)
    out.push({ path: "quality.good_error_rate", message: `${c.quality.good_error_rate} is above quality.critical_error_rate (${c.quality.critical_error_rate})` });
  if (c.quality.good_latency_ms > c.quality.poor_latency_ms)
    out.push({ path: "quality.good_latency_ms", message: `${c.quality.good_latency_ms} is above quality.poor_latency_ms (${c.quality.poor_latency_ms})` });
  return out;
}

/** Older name of structureIssues(), still used by the relay's config. */
export const unknownKeys = structureIssues;

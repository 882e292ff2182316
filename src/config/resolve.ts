// Decodes a validated config into the types components use, once per loaded config: every duration in milliseconds.
import type { Static, TSchema } from "@sinclair/typebox";
import { durationMs } from "./duration.ts";
import type { Config, Resolved, ResolvedConfig } from "./schema.ts";
import { CONFIG_SCHEMA } from "./config-check.generated.ts";

const memo = new WeakMap<TSchema, WeakMap<object, unknown>>();

/**
 * `value` (a validated config, or one of its sections) with each duration field (format c2l-duration) in
 * milliseconds. Kept with the object it came from: a loaded config is decoded once, however often it is read.
 */
export function resolveBy<S extends TSchema>(schema: S, value: Static<S>): Resolved<S> {
  if (!value || typeof value !== "object") return walk(schema, value) as Resolved<S>;
  let bySchema = memo.get(schema);
  if (!bySchema) memo.set(schema, (bySchema = new WeakMap()));
  let r = bySchema.get(value);
  if (r === undefined) bySchema.set(value, (r = walk(schema, value)));
  return r as Resolved<S>;
}

function walk(schema: TSchema, value: unknown): unknown {
  const s = schema as { type?: string; format?: string; properties?: Record<string, TSchema>; items?: TSchema };
  if (s.type === "string" && s.format === "c2l-duration") return durationMs(value as string);
  if (s.type === "object" && s.properties && value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = s.properties[k] ? walk(s.properties[k], v) : v;
    return out;
  }
  if (s.type === "array" && s.items && Array.isArray(value)) return value.map((v) => walk(s.items!, v));
  return value;
}

/** The resolved form of a loaded config (see resolveBy): what components read their durations from. */
export function resolved(config: Config): ResolvedConfig {
  return resolveBy(CONFIG_SCHEMA, config);
}

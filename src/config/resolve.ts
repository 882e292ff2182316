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

type Node = { type?: string; format?: string; properties?: Record<string, TSchema>; items?: TSchema };

/** A field's resolved value: tables and lists walked, durations decoded, anything else as it is. */
function walk(schema: TSchema, value: unknown): unknown {
  const s = schema as Node;
  if (s.type === "string" && s.format === "c2l-duration") return durationMs(value as string);
  if (s.type === "object" && s.properties && value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    // Plain fields are settled here without a call each: a walk that calls itself for every field gets hot enough at
    // start-up for the optimising JIT, whose compiler's pages an idle process then carries (docs/performance.md).
    for (const [k, v] of Object.entries(value)) {
      const p = s.properties[k] as Node | undefined;
      out[k] = !p || (p.type !== "object" && p.type !== "array" && p.format !== "c2l-duration") ? v : walk(p as TSchema, v);
    }
    return out;
  }
  if (s.type === "array" && s.items && Array.isArray(value)) {
    const out: unknown[] = [];
    const p = s.items as Node;
    const plain = p.type !== "object" && p.type !== "array" && p.format !== "c2l-duration";
    for (const v of value) out.push(plain ? v : walk(p as TSchema, v));
    return out;
  }
  return value;
}

/** The resolved form of a loaded config (see resolveBy): what components read their durations from. */
export function resolved(config: Config): ResolvedConfig {
  return resolveBy(CONFIG_SCHEMA, config);
}

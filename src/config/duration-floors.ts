// The floors of duration fields (schema.ts's DurationFloor): one walk over a schema and a config, for the daemon's and the relay's.
import type { TSchema } from "@sinclair/typebox";
import { durationMs } from "./duration.ts";

/** validate.ts's FieldIssue, by shape: validate.ts imports this file. */
type FieldIssue = { path: string; message: string };
type Node = { type?: string; format?: string; properties?: Record<string, TSchema>; items?: TSchema; minDuration?: string; minDurationWhy?: string };

/** One issue per duration under its field's floor, named by its dotted path ("health.interval", "upstreams[0].connect_timeout"). */
export function durationFloorIssues(schema: TSchema, value: unknown, path = ""): FieldIssue[] {
  const s = schema as Node;
  if (s.format === "c2l-duration" && s.minDuration && typeof value === "string" && durationMs(value) < durationMs(s.minDuration))
    return [{ path, message: `"${value}" is below the minimum ${s.minDuration}: ${s.minDurationWhy}` }];
  const out: FieldIssue[] = [];
  if (s.type === "object" && s.properties && value && typeof value === "object")
    for (const [k, p] of Object.entries(s.properties)) out.push(...durationFloorIssues(p, (value as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  if (s.type === "array" && s.items && Array.isArray(value)) value.forEach((v, i) => out.push(...durationFloorIssues(s.items!, v, `${path}[${i}]`)));
  return out;
}

// The schema's errors in a config as human sentences, one per field, from TypeBox's Value.Errors: loaded only when the generated check finds a config invalid (load.ts).
import { Value, ValueErrorType, type ValueError } from "@sinclair/typebox/value";
import type { TSchema } from "@sinclair/typebox";
import { DURATION_PATTERN } from "./schema.ts";
import { splitListen } from "./listen.ts";
import { joinPath, relayUrlMessage, show, urlHint, type FieldIssue } from "./validate.ts";

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
export function schemaIssues(withDefaults: unknown, schema: TSchema): FieldIssue[] {
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


// Writes a config as commented TOML, the comments taken from the schema's descriptions (first-run file, migration output, docs).
import { stringify } from "smol-toml";
import type { TSchema } from "@sinclair/typebox";
import { ConfigSchema, type Config } from "./schema.ts";
import { defaultConfig } from "./load.ts";

const isObjectSchema = (s: TSchema) => s.type === "object" && !!s.properties;
const isTableArray = (s: TSchema) => s.type === "array" && !!s.items && isObjectSchema(s.items as TSchema);

/** Allowed values of a union of literals, e.g. `"ollama", "openai"`; undefined for other schemas. */
export function choices(s: TSchema): string[] | undefined {
  const opts = (s.anyOf as TSchema[] | undefined)?.map((o) => o.const);
  return opts && opts.every((o) => o !== undefined) ? opts.map((o) => JSON.stringify(o)) : undefined;
}

/** A short type name for docs: "string", "duration", "integer ≥ 1", `"a" | "b"`... */
export function typeLabel(s: TSchema): string {
  const c = choices(s);
  if (c) return c.join(" | ");
  if (s.format === "c2l-duration") return "duration";
  if (s.format === "c2l-listen") return "host:port";
  if (s.format === "c2l-url" || s.format === "c2l-url-or-empty") return "URL";
  if (s.type === "array") return `list of ${isObjectSchema(s.items as TSchema) ? "tables" : typeLabel(s.items as TSchema) + "s"}`;
  const range = [s.minimum !== undefined ? `≥ ${s.minimum}` : "", s.maximum !== undefined ? `≤ ${s.maximum}` : ""].filter(Boolean).join(", ");
  return `${s.type ?? "value"}${range ? ` (${range})` : ""}`;
}

export function tomlValue(v: unknown): string {
  if (Array.isArray(v) && v.length > 3 && v.every((x) => typeof x !== "object")) {
    return `[\n${v.map((x) => `  ${tomlValue(x)},`).join("\n")}\n]`;
  }
  return stringify({ v }).replace(/^v = /, "").trim();
}

/** Wraps text into comment lines; a list item ("  - x") keeps its indent on continuation lines. */
function wrap(text: string, prefix = "# ", width = 110): string[] {
  const indent = /^\s*(- )?/.exec(text)![0];
  const out: string[] = [];
  let line = "";
  for (const word of text.slice(indent.length).trim().split(/\s+/)) {
    const lead = out.length ? " ".repeat(indent.length) : indent;
    if (line && (prefix + lead + line + " " + word).length > width) {
      out.push(prefix + lead + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(prefix + (out.length ? " ".repeat(indent.length) : indent) + line);
  return out;
}

function fieldComment(s: TSchema): string[] {
  const parts = [s.description as string | undefined, choices(s) ? `One of ${choices(s)!.join(", ")}.` : undefined].filter(Boolean);
  return parts.length ? wrap(parts.join(" ")) : [];
}

function renderTable(lines: string[], header: string, schema: TSchema, value: Record<string, unknown>, comments: boolean, description?: string): void {
  const props = schema.properties as Record<string, TSchema>;
  lines.push("");
  if (comments && description) lines.push(...wrap(description));
  lines.push(header);
  const later: [string, TSchema][] = [];
  for (const [k, s] of Object.entries(props)) {
    if (isObjectSchema(s) || isTableArray(s)) {
      later.push([k, s]);
      continue;
    }
    if (value[k] === undefined) continue;
    if (comments) lines.push(...fieldComment(s));
    lines.push(`${k} = ${tomlValue(value[k])}`);
  }
  const base = header.replace(/^\[+|\]+$/g, "");
  for (const [k, s] of later) renderEntry(lines, `${base}.${k}`, s, value[k], comments);
}

function renderEntry(lines: string[], path: string, s: TSchema, v: unknown, comments: boolean): void {
  if (isObjectSchema(s)) {
    renderTable(lines, `[${path}]`, s, (v ?? {}) as Record<string, unknown>, comments, s.description as string | undefined);
  } else if (isTableArray(s)) {
    const items = (v ?? []) as Record<string, unknown>[];
    if (!items.length) {
      lines.push("");
      if (comments && s.description) lines.push(...wrap(s.description as string));
      lines.push(`# (none) add one with [[${path}]]`);
    }
    items.forEach((item, i) => renderTable(lines, `[[${path}]]`, s.items as TSchema, item, comments && i === 0, i === 0 ? (s.description as string) : undefined));
  }
}

/**
 * TOML text for `config`, with the schema's descriptions as comments when `comments` is set.
 * Parsing the result gives back `config`.
 */
export function renderConfig(config: Config = defaultConfig(), opts: { comments?: boolean; header?: string[] } = {}): string {
  const comments = opts.comments ?? true;
  const lines: string[] = [...(opts.header ?? []).flatMap((h) => wrap(h))];
  for (const [k, s] of Object.entries(ConfigSchema.properties as Record<string, TSchema>)) {
    renderEntry(lines, k, s, (config as Record<string, unknown>)[k], comments);
  }
  return lines.join("\n").replace(/^\n+/, "") + "\n";
}

export const DEFAULT_FILE_HEADER = [
  "cloudtolocalllm-tunnel configuration, written with the defaults on first run.",
  "The running daemon applies changes when you save (an invalid file is rejected and the running configuration kept).",
  "Check it with `cloudtolocalllm-tunnel config validate`; every key is described in the README (Configuration).",
];

/** The commented file written on first run. */
export function defaultConfigText(): string {
  return renderConfig(defaultConfig(), { comments: true, header: DEFAULT_FILE_HEADER });
}

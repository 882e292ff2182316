// Reads a TOML config into a validated, defaulted Config; problems come back as issues naming file, field, line and column.
import { parse, TomlError } from "smol-toml";
import { Value } from "@sinclair/typebox/value";
import { ConfigSchema, type Config } from "./schema.ts";
import { locate, locateAll } from "./locate.ts";
import { schemaIssues, semanticIssues, structureIssues } from "./validate.ts";

export interface ConfigIssue {
  file: string;
  path: string; // dotted field path, e.g. "upstreams[0].url"; "" for a syntax error
  message: string;
  line?: number;
  column?: number;
}

export type LoadResult = { ok: true; config: Config } | { ok: false; issues: ConfigIssue[] };

export function defaultConfig(): Config {
  return Value.Default(ConfigSchema, {}) as Config;
}

/** Parses and validates config text. `file` is only used in messages. */
export function parseConfig(text: string, file = "config"): LoadResult {
  const r = parseTomlConfig(text, file, validateConfig);
  if (!r.ok) r.issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return r;
}

/** TOML text through `validate`, for this config and the relay's: a syntax error or each issue gets the line and column of the field it names (or of its table when the field is missing). */
export function parseTomlConfig<C>(
  text: string,
  file: string,
  validate: (raw: unknown, file: string) => { ok: true; config: C } | { ok: false; issues: ConfigIssue[] },
): { ok: true; config: C } | { ok: false; issues: ConfigIssue[] } {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    if (e instanceof TomlError) return { ok: false, issues: [{ file, path: "", message: e.message.split("\n")[0]!, line: e.line, column: e.column }] };
    throw e;
  }
  const r = validate(raw, file);
  if (r.ok) return r;
  const all = locateAll(text);
  for (const i of r.issues) Object.assign(i, locate(text, i.path, all) ?? {});
  return r;
}

export function validateConfig(raw: unknown, file = "config"): LoadResult {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw));
  const structural = structureIssues(raw);
  const under = (p: string, q: string) => p === q || p.startsWith(`${q}.`) || p.startsWith(`${q}[`);
  let found = [...structural, ...schemaIssues(withDefaults).filter((i) => !structural.some((s) => under(i.path, s.path)))];
  if (!found.length) found = semanticIssues(withDefaults as Config);
  if (found.length) return { ok: false, issues: found.map((f) => ({ file, ...f })) };
  return { ok: true, config: withDefaults as Config };
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line ? `${i.file}:${i.line}:${i.column ?? 1}` : i.file;
  return `${where}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}

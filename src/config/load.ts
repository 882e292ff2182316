// Reads a TOML config into a validated, defaulted Config; problems come back as issues naming file, field, line and column.
import { closeSync, openSync, readSync } from "node:fs";
import { parse, TomlError } from "smol-toml";
import type { TSchema } from "@sinclair/typebox";
import type { Config } from "./schema.ts";
import { locate, locateAll } from "./locate.ts";
import { semanticIssues, structureIssues, type FieldIssue } from "./validate.ts";
import { applyDefaults } from "./defaults.ts";
import { hideCredentials } from "./inline-secrets.ts";
import { checkConfig, CONFIG_SCHEMA } from "./config-check.generated.ts";

export interface ConfigIssue {
  file: string;
  path: string; // dotted field path, e.g. "upstreams[0].url"; "" for a syntax error
  message: string;
  line?: number;
  column?: number;
}

export type LoadResult = { ok: true; config: Config } | { ok: false; issues: ConfigIssue[] };

/** The largest config file accepted (daemon and relay): real ones are a few KiB; anything this big is a mistake, and parsing it would stall a reload. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Why a file that sets nothing is refused: it would silently reset every setting (ports, upstreams) to its default. */
export const EMPTY_CONFIG_MESSAGE =
  "the file sets nothing (it is empty, or only comments and blank lines), which would reset every setting to its default: was a save cut short? " +
  "To start over from the defaults on purpose, delete the file and restart the daemon (it writes the commented defaults again), " +
  "or put a backup back with `cloudtolocalllm-tunnel config restore ID` (`config backups` lists them)";

/**
 * A config file's text, read no further than MAX_CONFIG_BYTES + 1 bytes: a bigger file (a log redirected into it, a link
 * to /dev/zero) is then refused for its size by parseConfig without being held in memory whole first. Throws what
 * opening or reading it throws.
 */
export function readConfigText(file: string): string {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let got = -1; n < buf.length && got !== 0; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    return buf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
}

export function defaultConfig(): Config {
  return applyDefaults(CONFIG_SCHEMA, {}) as Config;
}

/** Parses and validates config text. `file` is only used in messages. A text that sets no key at all is refused (see EMPTY_CONFIG_MESSAGE). */
export function parseConfig(text: string, file = "config"): LoadResult {
  const r = parseTomlConfig(text, file, validateSettings);
  if (!r.ok) r.issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return r;
}

/** A parsed config (from TOML, or JSON sent to the API) checked as a file is: one that sets nothing is refused too. */
export function validateSettings(raw: unknown, file = "config"): LoadResult {
  return setsAnything(raw) ? validateConfig(raw, file) : { ok: false, issues: [{ file, path: "", message: EMPTY_CONFIG_MESSAGE }] };
}

/** TOML text through `validate`, for this config and the relay's: a syntax error or each issue gets the line and column of the field it names (or of its table when the field is missing). */
export function parseTomlConfig<C>(
  text: string,
  file: string,
  validate: (raw: unknown, file: string) => { ok: true; config: C } | { ok: false; issues: ConfigIssue[] },
): { ok: true; config: C } | { ok: false; issues: ConfigIssue[] } {
  const bytes = Buffer.byteLength(text, "utf8");
  // A file readConfigText stopped reading is "over" the limit (a cut UTF-8 character decodes to up to 3 bytes more).
  const size = bytes > MAX_CONFIG_BYTES + 3 ? mib(bytes) : `over ${mib(MAX_CONFIG_BYTES)}`;
  if (bytes > MAX_CONFIG_BYTES)
    return { ok: false, issues: [{ file, path: "", message: `the file is ${size}; a config file may be at most ${mib(MAX_CONFIG_BYTES)} (check what was written into it)` }] };
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const twice = /redefine/.test(e.message) ? definedTwice(text, e.line) : null;
      const message = twice ?? e.message.split("\n")[0]!;
      return { ok: false, issues: [{ file, path: "", message, line: e.line, column: e.column }] };
    }
    throw e;
  }
  const r = validate(raw, file);
  if (r.ok) return r;
  const all = locateAll(text);
  for (const i of r.issues) {
    Object.assign(i, locate(text, i.path, all) ?? {});
    // Found by its real path; a key that is a pasted credential is then not shown (the message hides it too).
    i.path = i.path.replace(/[^.[\]]+/g, hideCredentials);
  }
  return r;
}

const HEADER = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?/;

/**
 * smol-toml says only "trying to redefine an already defined table or value". Someone who pasted a README snippet into
 * the file the first run wrote meets this most: name the table or key, the line of the first one, and what to do.
 */
function definedTwice(text: string, line: number): string | null {
  const lines = text.split("\n");
  const at = lines[line - 1] ?? "";
  const before = lines.slice(0, line - 1);
  const header = HEADER.exec(at);
  if (header) {
    const name = header[1]!;
    const first = before.findIndex((l) => HEADER.exec(l)?.[1] === name);
    const where = first >= 0 ? ` (first on line ${first + 1})` : "";
    return `[${hideCredentials(name)}] is defined twice${where}: a table may appear only once; set its keys in the first one and delete this one`;
  }
  const key = /^\s*([^=#]+?)\s*=/.exec(at);
  if (!key) return null;
  // The table the key is in: the nearest header above it, and the line that header is on.
  let start = before.length - 1;
  while (start >= 0 && !HEADER.test(before[start]!)) start--;
  const table = start >= 0 ? HEADER.exec(before[start]!)![1] : undefined;
  const first = before.findIndex((l, n) => n > start && /^\s*([^=#]+?)\s*=/.exec(l)?.[1] === key[1]);
  const where = first >= 0 ? ` (first on line ${first + 1})` : "";
  return `${hideCredentials(key[1]!)}${table ? ` in [${table}]` : ""} is set twice${where}: keep one of the two lines`;
}

const mib = (n: number) => `${Number.isInteger(n / 1048576) ? n / 1048576 : (n / 1048576).toFixed(1)} MiB`;

/** Whether parsed TOML holds any value: tables that hold nothing (`[api]` alone) do not count. */
function setsAnything(raw: unknown): boolean {
  if (!raw || typeof raw !== "object" || Array.isArray(raw) || raw instanceof Date) return raw !== undefined;
  return Object.values(raw).some(setsAnything);
}

/**
 * The schema's issues with a defaulted config: none when the generated check (TypeBox's compiled check, made at build
 * time) passes it; otherwise TypeBox, loaded now, names each one. An idle daemon or relay never loads TypeBox, and a
 * validator that runs once per field does not get hot enough to page in the optimising JIT at start-up.
 */
export function schemaIssuesOf(withDefaults: unknown, check: (v: unknown) => boolean, schema: () => TSchema): FieldIssue[] {
  if (check(withDefaults)) return [];
  return (require("./schema-issues.ts") as typeof import("./schema-issues.ts")).schemaIssues(withDefaults, schema());
}

/** The TypeBox schema, loaded only to name what is wrong in an invalid config. */
const typeboxSchema = () => (require("./schema.ts") as typeof import("./schema.ts")).ConfigSchema;

export function validateConfig(raw: unknown, file = "config"): LoadResult {
  const withDefaults = applyDefaults(CONFIG_SCHEMA, structuredClone(raw));
  const structural = structureIssues(raw);
  const under = (p: string, q: string) => p === q || p.startsWith(`${q}.`) || p.startsWith(`${q}[`);
  let found = [...structural, ...schemaIssuesOf(withDefaults, checkConfig, typeboxSchema).filter((i) => !structural.some((s) => under(i.path, s.path)))];
  if (!found.length) found = semanticIssues(withDefaults as Config);
  if (found.length) return { ok: false, issues: found.map((f) => ({ file, ...f })) };
  return { ok: true, config: withDefaults as Config };
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line ? `${i.file}:${i.line}:${i.column ?? 1}` : i.file;
  return `${where}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}

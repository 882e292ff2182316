// Reads the config file for the sign-in and secret commands (defaults when there is no file yet).
import { existsSync, readFileSync } from "node:fs";
import { configPath } from "../config/paths.ts";
import { defaultConfig, formatIssue, parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { UsageError } from "../cli/args.ts";

export function loadCliConfig(explicit?: string): { file: string; config: Config } {
  const file = configPath(explicit);
  if (!existsSync(file)) return { file, config: defaultConfig() };
  const r = parseConfig(readFileSync(file, "utf8"), file);
  if (!r.ok) throw new UsageError(formatIssue(r.issues[0]!));
  return { file, config: r.config };
}

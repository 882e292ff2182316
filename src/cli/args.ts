// The CLI's shared pieces: the command contract, usage errors (exit 2) and option parsing.
import type { ParseArgsConfig } from "node:util";
import { suggest } from "../config/suggest.ts";
import { parseSimple } from "./simple-args.ts";
import type { CodeOf } from "../core/error-codes.ts";
import { shellWord } from "../core/shell-word.ts";

// The exit codes live beside the table of stable codes that names each error's (src/core/error-codes.ts).
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../core/error-codes.ts";

/** Wrong arguments or an invalid file: printed as one sentence, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly code: CodeOf<"UsageError"> = "usage";
}
const READ_FAILURES: Record<string, string> = {
  EACCES: "permission denied (the user it runs as cannot read it)",
  EPERM: "permission denied (the user it runs as cannot read it)",
  EISDIR: "it is a directory, not a file",
  ENOENT: "it does not exist",
};

/** A config file that cannot be read: a usage error (exit 2; restarting cannot fix it), naming the file and why. */
export function unreadableFile(file: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new UsageError(`cannot read ${file}: ${(code && READ_FAILURES[code]) ?? (e as Error)?.message ?? String(e)}${code ? ` (${code})` : ""}`);
}

const CREATE_FAILURES: Record<string, string> = {
  EACCES: "permission denied (the user it runs as cannot write there)",
  EPERM: "permission denied (the user it runs as cannot write there)",
  ENOENT: "its directory cannot be created",
  ENOTDIR: "a part of its path is a file, not a directory",
  EEXIST: "a part of its path is a file, not a directory",
  EROFS: "the file system is read-only",
};

/**
 * A first config file that cannot be written (its directory cannot be made, or written): a usage error naming the
 * file and why, not the system's sentence about a temporary file beside it.
 */
export function uncreatableFile(file: string, e: unknown): UsageError {
  // The atomic write's own errors (FileWriteError, DiskFullError) carry the system's code as a string `errno`.
  const errno = (e as { errno?: unknown } | undefined)?.errno;
  const code = typeof errno === "string" ? errno : (e as NodeJS.ErrnoException | undefined)?.code;
  return new UsageError(`cannot create the configuration ${file}: ${(code && CREATE_FAILURES[code]) ?? (e as Error)?.message ?? String(e)}${code ? ` (${code})` : ""}; create it yourself, or pass --config FILE`);
}

/**
 * A file the daemon could not open at start (the system's error, with its path): the path, why in words, the setting
 * that names it when one does (`names`: path → setting), and, for a file of another user, the chown that gives it back.
 * Null when the error carries no path.
 */
export function fileAtStart(e: unknown, names: Record<string, string>): string | null {
  const err = e as NodeJS.ErrnoException | undefined;
  if (!err?.path || !isSystemError(e)) return null;
  const why = (err.code && (READ_FAILURES[err.code] ?? CREATE_FAILURES[err.code])) ?? err.message;
  const setting = names[err.path] ? ` (${names[err.path]})` : "";
  const owner = err.code === "EACCES" || err.code === "EPERM" ? `; if it is another user's (a run with sudo?): \`sudo chown "$(id -un)": ${shellWord(err.path)}\`` : "";
  return `cannot open ${err.path}${setting}: ${why.replace(/ \(the user it runs as cannot (read it|write there)\)/, "")} (${err.code})${owner}`;
}

/** Whether a failure is the system's (an errno code such as EACCES), not one of ours with its own sentence. */
export const isSystemError = (e: unknown): boolean => /^E[A-Z0-9]+$/.test(String((e as NodeJS.ErrnoException | undefined)?.code ?? ""));

/** A runtime failure with a message meant for the user: exit code 1; `code` says which kind (src/core/error-codes.ts). */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly code: CodeOf<"CliError"> = "failed",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Command {
  name: string;
  /** Full --help text. */
  help: string;
  /** For commands with subcommands: the --help text for these arguments (e.g. `config validate --help`). */
  helpFor?(argv: string[]): Promise<string>;
  /** Names of the subcommands, for the generated CLI reference and the shell completions. */
  subcommands?: string[];
  /**
   * `commands` is the command table (main.ts passes it): the commands generated from it (`completion`, the man page
   * `install` writes) get it here, as importing the table that imports them would be a cycle.
   */
  run(argv: string[], commands?: readonly CommandEntry[]): Promise<number>;
}

/** One row of the command table (commands.ts): each command's module is loaded only when called. */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<{ default: Command }>;
}

/** A `config` subcommand (one file each under cli/config/). */
export interface Subcommand extends Command {
  /** One line for the `config --help` list, e.g. "validate [FILE]". */
  usage: string;
}

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T, allowPositionals = true) {
  const all = { ...options, help: { type: "boolean", short: "h" } } as const;
  const config = { args: argv, options: all, allowPositionals, strict: true as const };
  const simple = parseSimple(argv, all, allowPositionals);
  if (simple) return simple as ReturnType<typeof nodeParseArgs<typeof config>>;
  try {
    return nodeParseArgs(config);
  } catch (e) {
    // Bun's parseArgs words some refusals on three lines (a value starting with a dash): one sentence, as every error.
    const message = (e as Error).message.replace(/\s*\n\s*/g, " ").replace(/\. To specify.*$/s, ".");
    throw new UsageError(message + optionHint(message, Object.keys(all)));
  }
}

/** node:util's parseArgs, loaded for the command lines parseSimple leaves to it (and for their errors). */
function nodeParseArgs<C extends ParseArgsConfig>(config: C) {
  return (require("node:util") as typeof import("node:util")).parseArgs(config);
}

/** " (did you mean \"--json\"?)" for an unknown long option close to a known one, as unknown commands get. */
export function optionHint(message: string, names: string[]): string {
  const unknown = /^Unknown option '--([^'=]+)/.exec(message)?.[1];
  if (!unknown) return "";
  const hint = suggest(unknown, names);
  return hint ? ` (did you mean "--${hint}"?)` : "";
}

/** ' (did you mean "start"?)' for a mistyped subcommand or action close to one of `names`, else "". */
export function didYouMean(word: string | undefined, names: readonly string[]): string {
  const hint = word ? suggest(word, [...names]) : undefined;
  return hint ? ` (did you mean "${hint}"?)` : "";
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

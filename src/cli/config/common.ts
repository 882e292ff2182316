// What the `config` subcommands share: the --config option, the store for the chosen file, and issue printing.
import { existsSync } from "node:fs";
import { configPath } from "../../config/paths.ts";
import { ConfigStore } from "../../config/store.ts";
import { formatIssue, MAX_CONFIG_BYTES, readConfigText, type ConfigIssue } from "../../config/load.ts";
import { CliError, unreadableFile } from "../args.ts";
import { writeStderrLine } from "../../core/stderr-line.ts";

export const CONFIG_OPTION = { config: { type: "string", short: "c" } } as const;
export const CONFIG_HELP = "  -c, --config FILE   config file (default: $CLOUDTOLOCALLLM_CONFIG or $XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml)";

export function storeFor(explicit?: string): ConfigStore {
  return new ConfigStore(configPath(explicit));
}

/**
 * Reads a file the user named as the daemon reads its config: no further than 1 MiB (a log redirected into it, a link
 * to /dev/zero), so parseConfig refuses it for its size in the daemon's words. A missing or unreadable file is one
 * sentence, exit 1.
 */
export function readUserFile(file: string): string {
  if (!existsSync(file)) throw new CliError(`${file} does not exist.`);
  try {
    return readConfigText(file);
  } catch (e) {
    // The words serve uses for the same file ("permission denied (the user it runs as cannot read it) (EACCES)"), not the bare code.
    throw new CliError(`${unreadableFile(file, e).message}.`);
  }
}

/**
 * Standard input's text, read no further than readConfigText reads a file (1 MiB and a byte): `config import -` fed a
 * log or `/dev/zero` is refused for its size by parseConfig, not held in memory whole (or read for ever).
 */
export async function readStdinText(stdin: ReadableStream<Uint8Array> = Bun.stdin.stream()): Promise<string> {
  const reader = stdin.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n <= MAX_CONFIG_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, MAX_CONFIG_BYTES + 1).toString("utf8");
}

/** Prints every issue on its own line to stderr ("FILE:LINE:COL: field: message"). */
export function printIssues(issues: ConfigIssue[]): void {
  for (const i of issues) writeStderrLine(formatIssue(i));
}

#!/usr/bin/env bun
// Entry point of the one binary: picks a command from the table and turns errors into one sentence and an exit code.
import { COMMANDS, findCommand } from "./cli/commands.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE, optionHint, UsageError, wantsHelp } from "./cli/args.ts";
import { codeInfo } from "./core/error-codes.ts";
import { writeStderrLine } from "./core/stderr-line.ts";
import { keepLoopbackDirect } from "./core/loopback-direct.ts";

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: cloudtolocalllm-tunnel [COMMAND] [OPTIONS]",
    "",
    "Lets every app on this desktop, and the cloud, reach your local LLM.",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `cloudtolocalllm-tunnel COMMAND --help` for a command's options. Without a command, `serve` runs.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  // -v as well as -V: what `ollama -v`, `node -v` and `npm -v` taught users to type.
  if (first === "--version" || first === "-V" || first === "-v") argv = ["version", ...argv.slice(1)];
  else if (first === "--help" || first === "-h" || first === "help") {
    const sub = argv[1] && findCommand(argv[1]);
    if (sub) return main([argv[1]!, "--help"]);
    console.log(usage());
    return 0;
  }
  // Options before any command belong to `serve`, the default.
  const name = !argv[0] || argv[0].startsWith("-") ? "serve" : argv[0];
  const rest = name === argv[0] ? argv.slice(1) : argv;
  const entry = findCommand(name);
  if (!entry) {
    const { suggest } = await import("./config/suggest.ts");
    const hint = suggest(name, COMMANDS.map((c) => c.name));
    writeStderrLine(`cloudtolocalllm-tunnel: unknown command "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}. Run \`cloudtolocalllm-tunnel --help\` for the list. [usage]`);
    return EXIT_USAGE;
  }
  const cmd = (await entry.load()).default;
  if (wantsHelp(rest)) {
    console.log(cmd.helpFor ? await cmd.helpFor(rest) : cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest, COMMANDS);
  } catch (e) {
    // The one mapping of the CLI's errors: the sentence, the stable code in brackets and the exit code, both from the
    // table (src/core/error-codes.ts); an error outside the table is a failure (1) without a code.
    const known = codeInfo(e);
    const msg = e instanceof Error ? e.message : String(e);
    // Options before any command went to `serve`: a mistyped --version is closer to a top-level option than to serve's.
    const global = e instanceof UsageError && rest === argv && !msg.includes("did you mean") ? optionHint(msg, ["version", "help"]) : "";
    // A CliError's default code ("failed") says nothing the exit status does not: only a specific code is shown.
    const shown = known && known.code !== "failed" ? ` [${known.code}]` : "";
    // Under journald the line that says why a service did not start is an error there too (`journalctl -p err`).
    const priority = (await import("./core/log.ts")).logFormat() === "journal" ? "<3>" : "";
    writeStderrLine(`${priority}cloudtolocalllm-tunnel ${name}: ${msg}${global}${shown}`);
    if (!(e instanceof UsageError || e instanceof CliError) && process.env.CLOUDTOLOCALLLM_DEBUG) console.error(e);
    return known?.exit ?? EXIT_FAILURE;
  }
}

if (import.meta.main) {
  keepLoopbackDirect();
  const code = await main(process.argv.slice(2));
  process.exit(code);
}

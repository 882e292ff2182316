// `completion bash|zsh|fish`: prints the shell completion script, generated from the command table.
import { CliError, parse, UsageError, type Command } from "./args.ts";
import { completionScript, SHELLS, type Shell } from "./completion-scripts.ts";

const SHELL_NAMES = Object.keys(SHELLS) as Shell[];

const command: Command = {
  name: "completion",
  subcommands: SHELL_NAMES,
  help: `Usage: cloudtolocalllm-tunnel completion bash|zsh|fish

Prints a completion script for the shell: commands, subcommands and options, with file names after
--config and --binary. The packages and \`install\` put the scripts where the shells find them; \`install\`
writes $XDG_DATA_HOME/bash-completion/completions/cloudtolocalllm-tunnel,
$XDG_DATA_HOME/fish/vendor_completions.d/cloudtolocalllm-tunnel.fish and
$XDG_DATA_HOME/zsh/site-functions/_cloudtolocalllm-tunnel (zsh: add that directory to fpath before compinit).
To try one in the current shell:

  source <(cloudtolocalllm-tunnel completion bash)
  cloudtolocalllm-tunnel completion fish | source`,
  async run(argv, commands) {
    if (!commands) throw new CliError("the command table was not passed in");
    const { positionals } = parse(argv, {});
    const shell = positionals[0];
    if (positionals.length !== 1 || !SHELL_NAMES.includes(shell as Shell)) {
      const { suggest } = await import("../config/suggest.ts");
      const hint = shell ? suggest(shell, SHELL_NAMES) : undefined;
      throw new UsageError(`${shell ? `unknown shell "${shell}"${hint ? ` (did you mean "${hint}"?)` : ""}` : "missing shell"}: use bash, zsh or fish.`);
    }
    process.stdout.write(await completionScript(shell as Shell, commands));
    return 0;
  },
};
export default command;

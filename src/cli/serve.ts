// `serve`: runs the daemon on the config file (created with defaults on first run) until SIGTERM or SIGINT.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { stringify } from "smol-toml";
import { configPath } from "../config/paths.ts";
import { defaultConfig, formatIssue, parseConfig } from "../config/load.ts";
import { Daemon } from "../daemon/daemon.ts";
import { COMPONENTS } from "../daemon/components.ts";
import { logger } from "../core/log.ts";
import { VERSION } from "../build-info.ts";
import { parse, UsageError, type Command } from "./args.ts";

const log = logger("daemon");

const command: Command = {
  name: "serve",
  summary: "Run the daemon (the default command)",
  help: `Usage: cloudtolocalllm-tunnel serve [--config FILE]

Runs the daemon: the Ollama-compatible broker, the control API and, when enabled, the tunnel.
The config file is created with commented defaults on first run.

Options:
  -c, --config FILE   config file (default: $CLOUDTOLOCALLLM_CONFIG or $XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml)`,
  async run(argv) {
    const { values } = parse(argv, { config: { type: "string", short: "c" } }, false);
    const file = configPath(values.config);
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, stringify(defaultConfig()), { mode: 0o600 });
      log.info("created the default configuration", { file });
    }
    const r = parseConfig(readFileSync(file, "utf8"), file);
    if (!r.ok) throw new UsageError(formatIssue(r.issues[0]!));

    const daemon = new Daemon({ file, config: r.config, factories: COMPONENTS });
    const onSignal = (sig: string) => daemon.ctx.shutdown(sig);
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGHUP", () => void daemon.runtime.reload());

    await daemon.start();
    log.info("started", { version: VERSION, pid: process.pid, config: file });
    const reason = await daemon.done;
    log.info("stopping", { reason });
    await daemon.stop(reason);
    return 0;
  },
};
export default command;

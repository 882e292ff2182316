// `serve`: runs the daemon on the config file (created with commented defaults, or migrated from 1.x/2.x, on first run) until SIGTERM or SIGINT.
import { existsSync } from "node:fs";
import { configPath, defaultTokenFile } from "../config/paths.ts";
import { formatIssue, parseConfig } from "../config/load.ts";
import { ConfigStore } from "../config/store.ts";
import { keepDaemonDirsPrivate } from "../daemon/private-dirs.ts";
import { DiskFullError, FileWriteError } from "../config/atomic-write.ts";
import { Daemon } from "../daemon/daemon.ts";
import { COMPONENTS } from "../daemon/components.ts";
import { watchConfigFile } from "../daemon/config-watcher.ts";
import { logger, logStrayFailures } from "../core/log.ts";
import { ListenError } from "../core/listen-error.ts";
import { VERSION } from "../core/build-info.ts";
import { CliError, fileAtStart, isSystemError, parse, uncreatableFile, UsageError, unreadableFile, type Command } from "./args.ts";
import { tokenFile } from "../api/token.ts";
import { otherUsersPort } from "./port-holder.ts";
import { errnoOf, PLACE_FAILURES, readOnlyAdvice } from "./write-places.ts";

const log = logger("daemon");

/** Creates the config file on first run: migrated from the 1.x/2.x app when its files exist, else the commented defaults. */
async function firstRun(store: ConfigStore): Promise<void> {
  // Loaded here, on first run only: rendering the commented defaults reads the TypeBox schema's descriptions.
  const { findLegacy, migratedAt, plaintextLeftBehind } = await import("../config/migrate.ts");
  const { defaultConfigText } = await import("../config/render.ts");
  const legacy = findLegacy();
  // Migrated once already: the config was deleted since, to start over from the defaults.
  const before = legacy.length ? migratedAt(store.file) : null;
  if (before) log.info("the 1.x/2.x configuration was migrated before; writing the defaults (`cloudtolocalllm-tunnel config migrate` migrates it again)", { migrated_at: before });
  else if (legacy.length) {
    const { migrateInto } = await import("./config/migrate.ts");
    try {
      const applied = await migrateInto(legacy, store);
      if (applied.result.ok) {
        log.info("migrated the 1.x/2.x configuration; the old files were left as they were", {
          from: legacy.join(","),
          file: store.file,
          carried: applied.migration.carried.length,
          not_carried: applied.migration.notCarried.map((n) => n.field).join("; ") || undefined,
        });
        for (const note of plaintextLeftBehind(applied.migration, applied.storedSecrets)) log.warn(note);
        return;
      }
      log.warn("could not migrate the 1.x/2.x configuration; starting from the defaults", { error: formatIssue(applied.result.issues[0]!) });
    } catch (e) {
      log.warn("could not migrate the 1.x/2.x configuration; starting from the defaults", { error: e });
    }
  }
  const r = store.write(defaultConfigText());
  if (!r.ok) throw new CliError(`the default configuration does not validate: ${formatIssue(r.issues[0]!)}`);
  log.info("created the default configuration", { file: store.file });
}

const command: Command = {
  name: "serve",
  help: `Usage: cloudtolocalllm-tunnel serve [--config FILE]

Runs the daemon: the Ollama-compatible broker, the control API and, when enabled, the tunnel.
On first run the config file is created with commented defaults, or migrated from the 1.x/2.x app's
~/.cloudtolocalllm/ files when they exist. Saving the file (or SIGHUP) reloads it; an invalid file is
rejected with its line and column and the running configuration is kept. SIGTERM or SIGINT stops it.

Options:
  -c, --config FILE   config file (default: $CLOUDTOLOCALLLM_CONFIG or $XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml)`,
  async run(argv) {
    const { values } = parse(argv, { config: { type: "string", short: "c" } }, false);
    const file = configPath(values.config);
    const store = new ConfigStore(file);
    if (!existsSync(file)) {
      try {
        await firstRun(store);
      } catch (e) {
        if (!(isSystemError(e) || e instanceof FileWriteError || e instanceof DiskFullError)) throw e;
        const refused = uncreatableFile(file, e);
        // Another --config alone would stop the daemon at the next file it writes (the API token): name them all.
        throw PLACE_FAILURES.has(errnoOf(e)) ? new UsageError(`${refused.message}; ${readOnlyAdvice(file, defaultTokenFile())}`) : refused;
      }
    }
    let text: string;
    try {
      text = store.read() ?? "";
    } catch (e) {
      throw unreadableFile(file, e);
    }
    const r = parseConfig(text, file);
    if (!r.ok) throw new UsageError(formatIssue(r.issues[0]!));

    // Before anything is written there (keys, usage, secrets, logs): a directory others can list and enter is tightened.
    keepDaemonDirsPrivate();
    const daemon = new Daemon({ file, config: r.config, factories: COMPONENTS });
    let signals = 0;
    const onSignal = (sig: string) => {
      // A second signal means "now": skip the graceful stop, saying so (the process ends here, without "stopped").
      if (++signals > 1) {
        log.warn(`second ${sig}: stopping now, without waiting for the requests in flight`);
        process.exit(0);
      }
      daemon.ctx.shutdown(sig);
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGHUP", () => {
      log.info("SIGHUP: reloading the configuration", { file });
      void daemon.runtime.reload();
    });

    // A stray failure is one log line (journald-friendly), not a stack trace on stderr.
    logStrayFailures(log, () => {
      process.exitCode = 1;
      daemon.ctx.shutdown("error");
    });

    try {
      await daemon.start();
    } catch (e) {
      // One sentence and exit 1 (a runtime failure); start() already stopped whatever had started, so nothing listens.
      const held = e instanceof ListenError && e.errno === "EADDRINUSE" ? otherUsersPort(e.field === "api.listen" ? r.config.api.listen : r.config.proxy.listen, file) : null;
      const fix = held ? ` (${held})` : e instanceof ListenError ? ` (${e.errno === "EADDRINUSE" ? "stop what holds the port, or " : ""}change the address in ${file})` : "";
      // A file it could not open (the API token of another user, say) is named with its setting, not as the system's sentence.
      const opened = fileAtStart(e, { [tokenFile(r.config)]: "[api] token_file" });
      // A place it cannot write (a read-only home): every path it needs, not only the first one that failed.
      // (A file it cannot read, another user's token, has its own fix above: the chown.)
      const place = (e instanceof FileWriteError && PLACE_FAILURES.has(errnoOf(e))) || errnoOf(e) === "EROFS" ? `; ${readOnlyAdvice(file, tokenFile(r.config))}` : "";
      throw new CliError(`${opened ?? (e instanceof Error ? e.message : String(e))}; the daemon did not start${fix}${place}.`);
    }
    const watcher = watchConfigFile(file, (t) => daemon.runtime.fileChanged(t), { initialText: text });
    // `sudo … serve`: root's daemon holds the ports, and the user's own CLI, tray and daemon cannot use it (a 0600 token of root's).
    const sudoUser = process.getuid?.() === 0 ? process.env.SUDO_USER : undefined;
    if (sudoUser && sudoUser !== "root") log.warn(`running as root through sudo: this is root's daemon (its config, token and the ports), which ${sudoUser}'s commands and tray cannot use; stop it and run serve without sudo`, { user: sudoUser });
    log.info("started", { version: VERSION, pid: process.pid, config: file });
    const reason = await daemon.done;
    log.info("stopping", { reason });
    watcher.close();
    await daemon.stop(reason);
    log.info("stopped", { reason });
    return reason === "error" ? 1 : 0;
  },
};
export default command;

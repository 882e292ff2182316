// `install`: puts the downloaded binary, its user unit, desktop entries and icons in place and starts the service.
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { BINARY_NAME, install, xdgInstallPaths } from "../desktop/install/installer.ts";
import { installPackaged } from "../desktop/install/package-switch.ts";
import { files } from "./file-count.ts";
import { PACKAGED_BINARY } from "../desktop/install/assets.ts";
import { systemctlRunner } from "../desktop/install/systemctl.ts";
import { CliError, parse, UsageError, type Command } from "./args.ts";
import { BUILD_DATE, VERSION } from "../core/build-info.ts";
import { writeStderrLine } from "../core/stderr-line.ts";
import { shellWord } from "../core/shell-word.ts";
import { configPath } from "../config/paths.ts";
import { readClientSettings } from "../client/settings.ts";
import { errnoOf, readOnlyAdvice } from "./write-places.ts";

/** The file this process runs from, when it is the compiled binary (from source, process.execPath is bun itself). */
export function runningBinary(): string | null {
  return Bun.main.startsWith("/$bunfs/") ? process.execPath : null;
}

const command: Command = {
  name: "install",
  help: `Usage: cloudtolocalllm-tunnel install [--no-enable] [--binary FILE]

For the plain downloaded binary (packages do this for you; run from /usr/bin it only enables the service, after removing
the copy an earlier install put in your home, whose unit and binary would come before the package's). Copies the binary to ~/.local/bin, writes the systemd
user unit to $XDG_DATA_HOME/systemd/user (so \`systemctl --user mask\` and \`edit\` work on it), the dashboard launcher to $XDG_DATA_HOME/applications, the
autostart entry (it starts the daemon at login when systemd does not) to $XDG_CONFIG_HOME/autostart, the icons to $XDG_DATA_HOME/icons/hicolor, the AppStream metainfo to
$XDG_DATA_HOME/metainfo, the man page to $XDG_DATA_HOME/man/man1 and the bash, zsh and fish completions under
$XDG_DATA_HOME (see \`completion --help\`), then runs
\`systemctl --user daemon-reload\` and enables and starts cloudtolocalllm-tunnel.service, which shows the tray
icon itself: one process. An earlier install's tray unit (cloudtolocalllm-tunnel-tray.service) is stopped,
disabled and removed. Without a systemd user manager the files are still written and the systemd step is skipped
with a message.

Running it again is safe: unchanged files are left alone and the service is restarted only when the binary or its
unit changed; a masked unit stays masked. A file you changed since (an autostart entry your desktop turned off, an
edited unit) or made yourself (a unit in $XDG_CONFIG_HOME/systemd/user) is kept and named, by uninstall too. What it wrote is listed in $XDG_DATA_HOME/cloudtolocalllm/install-manifest.json; \`uninstall\` removes
exactly that. The configuration is never touched.

Options:
  --no-enable     write the files and reload systemd, but do not enable or start the service
  --binary FILE   install FILE instead of the running binary (needed when running from source)`,
  async run(argv, commands) {
    const { values } = parse(argv, { "no-enable": { type: "boolean" }, binary: { type: "string" } }, false);
    const source = values.binary ? resolve(values.binary) : runningBinary();
    if (!source) throw new UsageError("install copies the compiled binary: run it from `npm run build`'s dist/cloudtolocalllm-tunnel, or pass --binary FILE.");
    if (!existsSync(source)) throw new UsageError(`--binary: ${source} does not exist.`);
    // The tarball, its .sha256 or the unpacked directory instead of the program: refused before anything is written.
    const st = statSync(source);
    if (!st.isFile()) throw new UsageError(`--binary: ${source} is ${st.isDirectory() ? "a directory" : "not a regular file"}; name the program itself (cloudtolocalllm-tunnel inside it).`);
    if ((st.mode & 0o111) === 0) throw new UsageError(`--binary: ${source} is not executable; name the program itself (the cloudtolocalllm-tunnel file unpacked from the tarball).`);
    // A common slip: `sudo ... install` sets things up for root, not for the desktop user.
    if (process.getuid?.() === 0 && process.env.SUDO_USER) writeStderrLine(`Note: running as root through sudo installs for root, not for ${process.env.SUDO_USER}; run it without sudo.`);
    try {
      if (!values.binary && source === PACKAGED_BINARY) {
        // A package already put the units, entries and icons under /usr: a second copy in $HOME would shadow them.
        console.log(`${PACKAGED_BINARY} was installed by a package, which installed the units, desktop entries and icons; nothing to copy.`);
        const p = await installPackaged({ run: systemctlRunner, enable: !values["no-enable"] });
        if (p.homeCopy) {
          const n = p.homeCopy.removed.length;
          console.log(`Removed the copy an earlier \`install\` put in your home (${files(n)}): its unit and ${xdgInstallPaths().binDir}/${BINARY_NAME} came before the package's. Your configuration was kept.`);
          const k = p.homeCopy.kept;
          // An edited unit still hides the package's; an autostart entry the desktop turned off keeps that choice (same name as the package's).
          const unit = k.some((f) => f.endsWith(".service")) ? " (the unit still comes before the package's: delete it to use the package's)" : "";
          if (k.length) console.log(`Kept ${files(k.length)} you changed since${unit}:\n  ${k.join("\n  ")}`);
        }
        console.log(p.systemd);
        return 0;
      }
      const { generatedAssets } = await import("./generated-assets.ts");
      const generated = commands ? await generatedAssets(commands, VERSION, new Date(Date.parse(BUILD_DATE) || Date.now())) : [];
      const r = await install({ source, enable: !values["no-enable"], run: systemctlRunner, generated });
      console.log(`Installed ${r.binary} (${files(r.written.length)} written, ${r.unchanged.length} unchanged${r.removed.length ? `, ${r.removed.length} obsolete removed` : ""}).`);
      if (r.kept.length) console.log(`Kept ${r.kept.length} file${r.kept.length > 1 ? "s" : ""} you changed or made yourself (delete one and run install again for the shipped version):\n  ${r.kept.join("\n  ")}`);
      console.log(r.systemd);
      console.log("The daemon shows its tray icon itself while your desktop's panel hosts tray icons ([tray] enabled = \"auto\").");
      // bash and fish find the completions by themselves; zsh only in the directories listed in fpath.
      if ((process.env.SHELL ?? "").endsWith("/zsh")) console.log(`zsh: add \`fpath=(${shellWord(xdgInstallPaths().zshCompletionDir)} $fpath)\` before compinit in ~/.zshrc for completions.`);
      const bin = r.binary.slice(0, r.binary.lastIndexOf("/"));
      if (!(process.env.PATH ?? "").split(":").includes(bin)) console.log(`Note: ${bin} is not in your PATH; add it to run \`cloudtolocalllm-tunnel\` by name: \`export PATH="${bin}:$PATH"\` in ~/.profile, then log in again (many distributions' ~/.profile adds ~/.local/bin by itself once it exists).`);
      // man finds ~/.local/share/man through ~/.local/bin on PATH (bin/ → ../share/man); a moved XDG_DATA_HOME it does not.
      const manRoot = dirname(xdgInstallPaths().manDir);
      if (manRoot !== join(dirname(bin), "share", "man")) console.log(`man: add ${manRoot} to MANPATH (\`export MANPATH=${shellWord(manRoot)}:\`) for \`man cloudtolocalllm-tunnel\`.`);
      return 0;
    } catch (e) {
      // A read-only home stops install at its first file: name every place it writes, and the daemon's after it.
      // (A directory of another user, EACCES, is named already, with the file: that one is the fix.)
      if (errnoOf((e as Error).cause) !== "EROFS") throw new CliError((e as Error).message);
      const dirs = [...new Set(Object.values(xdgInstallPaths()).map((p) => (p.endsWith(".json") ? dirname(p) : p)))];
      const config = configPath();
      throw new CliError(`${(e as Error).message}; install writes into ${dirs.join(", ")}, and ${readOnlyAdvice(config, readClientSettings(config).tokenFile)}`);
    }
  },
};
export default command;

// doctor's checks of the user it runs as and the files the daemon reads and writes as that user: not root through sudo,
// the config file readable, the config and state directories writable (a `sudo` run leaves them root's, and the daemon
// then fails at start or loses its writes).
import { accessSync, closeSync, constants, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { appStateDir, home as homeDir } from "../config/paths.ts";
import { readConfigText as readBounded } from "../config/load.ts";
import { unreadableFile } from "./args.ts";
import type { CheckResult } from "./doctor-result.ts";
import { shellWord } from "../core/shell-word.ts";
import { readOnlyAdvice } from "./write-places.ts";

/** This user, for the detail line; the fix names it as the shell will (`id -un`), whatever the environment says. */
const user = (): string => `this user (uid ${process.getuid?.() ?? "?"})`;

/** Whether a path lies under the home directory: only there is handing it back to the user a safe fix. */
const inHome = (p: string) => {
  const home = resolve(homeDir());
  return home !== "/" && resolve(p).startsWith(home + "/");
};

/** What gives `path` back to this user: a chown of the directory, or (outside the home directory) another place. */
function giveBack(dir: string, elsewhere: string): string {
  return inHome(dir) ? `it belongs to another user (a run with sudo?): \`sudo chown -R "$(id -un)": ${shellWord(dir)}\`` : elsewhere;
}

/** The config file's text, null when it does not exist, or the failed check that says why it cannot be read. */
export function readConfigText(file: string): { text: string | null } | { result: CheckResult } {
  try {
    // At most 1 MiB, as the daemon reads it: a bigger file is then refused for its size in the daemon's words.
    return { text: readBounded(file) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { text: null };
    // Before it was read, an unreadable file (or a directory that cannot be entered) looked like no file at all.
    return { result: { name: "Config", level: "fail", detail: unreadableFile(file, e).message, fix: giveBack(dirname(file), "make it readable by this user, or pass --config FILE") } };
  }
}

/** The nearest part of `dir` that exists (the daemon creates the rest), and whether it is a directory. */
function nearest(dir: string): { path: string; isDir: boolean } {
  for (let p = resolve(dir); ; p = dirname(p)) {
    try {
      return { path: p, isDir: statSync(p).isDirectory() };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") return { path: p, isDir: true };
      if (p === dirname(p)) return { path: p, isDir: true };
    }
  }
}

/** One line per directory the daemon writes into that this user cannot: the config file's, the API token's and the state directory. */
export function checkDirectories(file: string, tokenFile: string): CheckResult[] {
  const config = dirname(resolve(file));
  const token = dirname(resolve(tokenFile));
  const dirs = [
    { name: "Config directory", dir: config, holds: config === token ? `the config file (${resolve(file)}) and the API token (${resolve(tokenFile)})` : `the config file (${resolve(file)})`, setting: "--config" },
    ...(config === token ? [] : [{ name: "Token directory", dir: token, holds: `the API token (${resolve(tokenFile)})`, setting: "[api] token_file" }]),
    { name: "State directory", dir: appStateDir(), holds: "usage counts, backups, the secrets file and the sign-in state", setting: "XDG_STATE_HOME" },
  ];
  const out: CheckResult[] = [];
  for (const { name, dir, holds, setting } of dirs) {
    const at = nearest(dir);
    if (!at.isDir) {
      out.push({ name, level: "fail", detail: `${at.path} is a file where a directory should be: the daemon cannot write ${holds} there`, fix: `move ${at.path} away, or set ${setting} to another place` });
      continue;
    }
    try {
      accessSync(at.path, constants.W_OK | constants.X_OK);
    } catch (e) {
      const made = at.path === dir ? dir : `${at.path} (where ${dir} is to be made)`;
      out.push({
        name,
        level: "fail",
        detail: `${made} is not writable by ${user()} (${(e as NodeJS.ErrnoException).code ?? "denied"}): the daemon cannot write ${holds}`,
        // A read-only file system is nobody's to chown: every path the daemon writes, and how to move them all.
        fix: (e as NodeJS.ErrnoException).code === "EROFS" ? `${at.path} is on a read-only file system; ${readOnlyAdvice(file, tokenFile)}` : giveBack(at.path, `set ${setting} to a directory this user can write`),
      });
    }
  }
  // The token file itself: the daemon reads it at start and stops there when it cannot (a root-owned file after sudo).
  try {
    closeSync(openSync(tokenFile, "r"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR")
      out.push({
        name: "API token",
        level: "fail",
        detail: `${unreadableFile(tokenFile, e).message} ([api] token_file): the daemon cannot start, nor the commands reach it`,
        fix: inHome(tokenFile) ? `it belongs to another user (a run with sudo?): \`sudo chown "$(id -un)": ${shellWord(tokenFile)}\`` : `make it readable by this user, or set [api] token_file to a file this user owns`,
      });
  }
  return out;
}

/** doctor run with sudo checks root's config, daemon and unit, not the desktop user's: say so first. */
export function checkUser(env: NodeJS.ProcessEnv, uid = process.getuid?.()): CheckResult | null {
  if (uid !== 0 || !env.SUDO_USER || env.SUDO_USER === "root") return null;
  return {
    name: "User",
    level: "warn",
    detail: `running as root through sudo: this checks root's config, daemon and systemd unit, not ${env.SUDO_USER}'s (the daemon runs as the desktop user)`,
    fix: "run `cloudtolocalllm-tunnel doctor` without sudo",
  };
}

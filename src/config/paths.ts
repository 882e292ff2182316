// Where files live: every location comes from XDG variables (inside the binary import.meta.dir is virtual).
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

const APP = "cloudtolocalllm";

/** HOME, else the password database's home directory; one sentence when there is neither. */
export function home(): string {
  if (process.env.HOME) return process.env.HOME;
  try {
    return homedir();
  } catch {
    // A container run as a uid /etc/passwd does not list, HOME unset: the system's "ENOENT: uv_os_homedir" named nothing.
    throw new Error(`HOME is not set and this user (uid ${process.getuid?.()}) has no home directory in the password database: set HOME, or XDG_CONFIG_HOME, XDG_STATE_HOME and XDG_DATA_HOME`);
  }
}

/** An XDG base directory variable; the spec says a relative path is invalid and is ignored, as if unset (it would
 * otherwise mean another directory for every working directory: the unit's daemon and a shell's CLI would disagree). */
function xdgVar(name: "XDG_CONFIG_HOME" | "XDG_STATE_HOME" | "XDG_DATA_HOME" | "XDG_RUNTIME_DIR"): string | undefined {
  const v = process.env[name];
  return v && isAbsolute(v) ? v : undefined;
}

export function configHome(): string {
  return xdgVar("XDG_CONFIG_HOME") ?? join(home(), ".config");
}
export function stateHome(): string {
  return xdgVar("XDG_STATE_HOME") ?? join(home(), ".local", "state");
}
export function dataHome(): string {
  return xdgVar("XDG_DATA_HOME") ?? join(home(), ".local", "share");
}
export function runtimeDir(): string | undefined {
  return xdgVar("XDG_RUNTIME_DIR");
}

export function appConfigDir(): string {
  return join(configHome(), APP);
}
export function appStateDir(): string {
  return join(stateHome(), APP);
}

/**
 * The config file: --config, then CLOUDTOLOCALLLM_CONFIG, then the XDG default; absolute, so a daemon started with a
 * relative --config names the same file to a CLI run from another directory (its status, its listen record's name).
 */
export function configPath(explicit?: string): string {
  return resolve(explicit || process.env.CLOUDTOLOCALLLM_CONFIG || join(appConfigDir(), "tunnel.toml"));
}
export function backupsDir(): string {
  return join(appStateDir(), "backups");
}
export function defaultTokenFile(): string {
  return join(appConfigDir(), "api-token");
}
/** The 1.x/2.x desktop apps kept their files here. */
export function legacyDir(): string {
  return join(home(), ".cloudtolocalllm");
}
/** Which config files the 1.x/2.x files were migrated into, and when: first run does not migrate them again. */
export function legacyMarkerFile(): string {
  return join(appStateDir(), "legacy-migrated.json");
}
/** The log of a daemon the `tray` command started without systemd (under systemd the journal has it). */
export function daemonLogFile(): string {
  return join(appStateDir(), "daemon.log");
}

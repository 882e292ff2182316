// Installs the plain binary for one user under the XDG directories, with a manifest so uninstall removes exactly that.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { atomicWrite } from "../../config/atomic-write.ts";
import { configHome, dataHome, home as homeDir } from "../../config/paths.ts";
import { assets, checkPlainPath, RETIRED_UNITS, SERVICE_UNIT, type Asset, type AssetKind } from "./assets.ts";
import { managerUnitDir, userManager, userManagerUnavailable, type Runner } from "./systemctl.ts";

export const BINARY_NAME = "cloudtolocalllm-tunnel";

export interface InstallPaths {
  binDir: string;
  userUnitDir: string;
  applicationsDir: string;
  autostartDir: string;
  iconsDir: string;
  /** man1/ under the XDG data home: man-db finds ~/.local/share/man through ~/.local/bin on PATH. */
  manDir: string;
  metainfoDir: string;
  bashCompletionDir: string;
  zshCompletionDir: string;
  fishCompletionDir: string;
  manifest: string;
}

/** ~/.local/bin (the XDG "user executables" directory) and the XDG config/data homes. */
export function xdgInstallPaths(): InstallPaths {
  // Read like paths.ts's configHome()/dataHome(), from this process's environment.
  const home = homeDir();
  return {
    binDir: join(home, ".local", "bin"),
    // systemd.unit(5)'s place for units of "packages installed in the home directory", below ~/.config/systemd/user:
    // there `systemctl --user mask` (its /dev/null link) and `edit --full` (its copy) go, and win over this file.
    userUnitDir: join(dataHome(), "systemd", "user"),
    applicationsDir: join(dataHome(), "applications"),
    autostartDir: join(configHome(), "autostart"),
    iconsDir: join(dataHome(), "icons"),
    manDir: join(dataHome(), "man", "man1"),
    metainfoDir: join(dataHome(), "metainfo"),
    // Where bash-completion and fish look under the XDG data home; zsh looks nowhere by itself (`install` says so).
    bashCompletionDir: join(dataHome(), "bash-completion", "completions"),
    zshCompletionDir: join(dataHome(), "zsh", "site-functions"),
    fishCompletionDir: join(dataHome(), "fish", "vendor_completions.d"),
    manifest: join(dataHome(), "cloudtolocalllm", "install-manifest.json"),
  };
}

export interface Manifest {
  format: 1;
  installedAt: string;
  binary: string;
  /** Every file install wrote (absolute paths). */
  files: string[];
  /** Directories install created (removed by uninstall when empty). */
  dirs: string[];
  units: string[];
  /** sha256 of what install wrote to each file but the binary: a file that no longer matches was changed by its user. */
  sha256?: Record<string, string>;
}

export function readManifest(path: string): Manifest | null {
  if (!existsSync(path)) return null;
  try {
    const m = JSON.parse(readFileSync(path, "utf8")) as Manifest;
    return m.format === 1 && Array.isArray(m.files) ? m : null;
  } catch {
    throw new Error(`the install manifest ${path} is not valid JSON; remove it and the files it listed by hand`);
  }
}

export interface InstallOptions {
  /** The binary to install (the running compiled binary, normally). */
  source: string;
  enable: boolean;
  run: Runner;
  paths?: InstallPaths;
  out?: (line: string) => void;
  /** Files generated from the command table (man page, shell completions; src/cli/generated-assets.ts), placed by kind. */
  generated?: Asset[];
}

export interface InstallReport {
  binary: string;
  written: string[];
  unchanged: string[];
  removed: string[];
  /** Files left as they are: changed since install wrote them, or never written by install (a unit of the user's own). */
  kept: string[];
  systemd: string;
}

function mkdirTracked(dir: string, created: Set<string>): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.push(d);
  for (const d of missing.reverse()) {
    mkdirSync(d, { mode: 0o755 });
    created.add(d);
  }
}

async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

async function sameFile(a: string, b: string): Promise<boolean> {
  if (!existsSync(b)) return false;
  if (realpathSync(a) === realpathSync(b)) return true;
  if (statSync(a).size !== statSync(b).size) return false;
  return (await sha256File(a)) === (await sha256File(b));
}

function sha256(content: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(content).digest("hex");
}

/** Whether `path` holds what an earlier install wrote there (manifests without hashes predate the check: theirs count as such). */
function asInstalled(path: string, m: Manifest | null): boolean {
  if (!m?.files.includes(path)) return false;
  const want = m.sha256?.[path];
  return want === undefined || (existsSync(path) && sha256(readFileSync(path)) === want);
}

const WRITE_FAILURES: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the disk",
  EDQUOT: "the disk quota is used up",
  ENOTDIR: "a file stands where a directory must be",
};

/** One sentence for a file install could not write: which, why, and that a rerun or `uninstall` picks up from there. */
function writeFailure(file: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why = (err?.code && WRITE_FAILURES[err.code]) ?? err?.message ?? String(e);
  const where = err?.path && err.path !== file ? `${file} (at ${err.path})` : file;
  return `cannot write ${where}: ${why}${err?.code ? ` (${err.code})` : ""}; fix that and run install again, or run uninstall to remove what was written`;
}

function sameContent(path: string, content: string | Uint8Array): boolean {
  if (!existsSync(path)) return false;
  const cur = readFileSync(path);
  return Buffer.compare(cur, typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content)) === 0;
}

const DIR_OF: Partial<Record<AssetKind, keyof InstallPaths>> = {
  "user-unit": "userUnitDir",
  application: "applicationsDir",
  autostart: "autostartDir",
  icon: "iconsDir",
  metainfo: "metainfoDir",
  man: "manDir",
  "completion-bash": "bashCompletionDir",
  "completion-zsh": "zshCompletionDir",
  "completion-fish": "fishCompletionDir",
};

export async function install(opts: InstallOptions): Promise<InstallReport> {
  const paths = opts.paths ?? xdgInstallPaths();
  const out = opts.out ?? (() => {});
  const prev = readManifest(paths.manifest);
  const created = new Set(prev?.dirs ?? []);
  const report: InstallReport = { binary: join(paths.binDir, BINARY_NAME), written: [], unchanged: [], removed: [], kept: [], systemd: "" };
  const files: string[] = [];
  const hashes: Record<string, string> = {};
  checkPlainPath(report.binary);
  const saveManifest = () => {
    mkdirTracked(dirname(paths.manifest), created);
    const manifest: Manifest = { format: 1, installedAt: new Date().toISOString(), binary: report.binary, files, dirs: [...created].sort(), units: [SERVICE_UNIT], sha256: hashes };
    atomicWrite(paths.manifest, JSON.stringify(manifest, null, 2) + "\n", 0o644);
  };
  let current = report.binary;
  try {
    // The binary: copied to a stable place so the unit keeps working when the download folder is cleaned.
    // Written beside the target and renamed over it, so a running copy is never modified in place.
    mkdirTracked(paths.binDir, created);
    if (await sameFile(opts.source, report.binary)) {
      if (prev?.files.includes(report.binary)) files.push(report.binary);
      report.unchanged.push(report.binary);
    } else {
      const tmp = `${report.binary}.${process.pid}.tmp`;
      try {
        copyFileSync(opts.source, tmp);
        chmodSync(tmp, 0o755);
        renameSync(tmp, report.binary);
      } finally {
        rmSync(tmp, { force: true });
      }
      files.push(report.binary);
      report.written.push(report.binary);
    }

    for (const a of [...assets({ binary: report.binary, relay: false }), ...(opts.generated ?? [])]) {
      const key = DIR_OF[a.kind];
      if (!key) continue;
      const dest = (current = join(paths[key], a.name));
      if (sameContent(dest, a.content)) {
        files.push(dest);
        hashes[dest] = sha256(a.content);
        report.unchanged.push(dest);
        continue;
      }
      // The user's edit (a desktop's "don't start at login" in the autostart entry, a changed unit) or the user's own file
      // (`systemctl --user edit --full`): never overwritten. One install wrote stays listed with its old hash, so uninstall keeps it too.
      if (existsSync(dest) && !asInstalled(dest, prev)) {
        if (prev?.files.includes(dest)) {
          files.push(dest);
          if (prev.sha256?.[dest]) hashes[dest] = prev.sha256[dest];
        }
        report.kept.push(dest);
        continue;
      }
      files.push(dest);
      hashes[dest] = sha256(a.content);
      mkdirTracked(dirname(dest), created);
      atomicWrite(dest, a.content, 0o644);
      report.written.push(dest);
    }
  } catch (e) {
    // What was written so far stays listed, with what an earlier install listed, so `uninstall` can remove it all.
    for (const f of prev?.files ?? []) if (!files.includes(f)) files.push(f);
    try {
      saveManifest();
    } catch {}
    throw new Error(writeFailure(current, e), { cause: e });
  }

  // Units an earlier install enabled that this version retired (the tray's own unit: the daemon shows the tray now):
  // stopped and disabled while their files still exist (best effort), so an upgrade leaves one process, not two.
  const retired = (prev?.units ?? []).filter((u) => RETIRED_UNITS.includes(u));
  let retiredNote = "";
  if (retired.length && !(await userManagerUnavailable(opts.run))) {
    const r = await opts.run(["disable", "--now", ...retired]);
    if (r.code === 0) retiredNote = `systemd: retired ${retired.join(", ")} (the daemon shows the tray icon itself now).\n`;
  }

  // Files an earlier install wrote that this version no longer ships, or writes elsewhere (the unit, once in
  // ~/.config/systemd/user: its enablement links follow it). One changed since is the user's: kept and named.
  for (const f of prev?.files ?? []) {
    if (files.includes(f)) continue;
    if (existsSync(f) && !asInstalled(f, prev)) {
      report.kept.push(f);
      continue;
    }
    const moved = files.find((n) => n !== f && basename(n) === basename(f) && n.endsWith(".service"));
    if (moved && f.endsWith(".service")) relinkEnablement(configUnitDir(paths), f, moved);
    rmSync(f, { force: true });
    report.removed.push(f);
  }

  // A unit of the user's own in ~/.config/systemd/user (`systemctl --user edit --full`'s copy, or one made by hand) is the
  // one systemd runs: named, as a file install keeps. A mask (a link to /dev/null) is the user's "off", said below.
  const own = join(configUnitDir(paths), SERVICE_UNIT);
  const ours = join(paths.userUnitDir, SERVICE_UNIT);
  if (existsSync(own) && !report.kept.includes(own) && !["/dev/null", existsSync(ours) ? realpathSync(ours) : ours].includes(realpathSync(own))) report.kept.push(own);

  saveManifest();

  const serviceChanged = report.written.some((f) => f === report.binary || f.endsWith(`/${SERVICE_UNIT}`));
  report.systemd = retiredNote + (await enableService(opts.run, opts.enable, serviceChanged, paths.userUnitDir));
  out(report.systemd);
  return report;
}

/** The user's unit directory, ~/.config/systemd/user, where `systemctl enable` puts its links (the config home is the autostart directory's parent). */
const configUnitDir = (paths: InstallPaths) => join(dirname(paths.autostartDir), "systemd", "user");

/** `systemctl enable`'s links to `unit` (in *.wants/ and *.requires/ of `dir`) re-pointed to `to`, where it moved, or removed. */
function relinkEnablement(dir: string, unit: string, to: string | null): void {
  let dirs: string[];
  try {
    dirs = readdirSync(dir).filter((d) => /\.(wants|requires)$/.test(d));
  } catch {
    return;
  }
  for (const d of dirs) {
    const link = join(dir, d, basename(unit));
    try {
      if (readlinkSync(link) !== unit) continue;
    } catch {
      continue;
    }
    rmSync(link, { force: true });
    if (to) symlinkSync(to, link);
  }
}

/**
 * daemon-reload, then enable and (re)start the user service; the one-line outcome, or why systemd was skipped.
 * `unitDir`: where install wrote the unit, which must be where the manager looks for it.
 */
export async function enableService(run: Runner, enable: boolean, changed: boolean, unitDir?: string): Promise<string> {
  const { unavailable, environment } = await userManager(run);
  if (unavailable) {
    return `systemd: skipped, ${unavailable}. Start the daemon yourself with \`${BINARY_NAME} serve\`, or run \`systemctl --user daemon-reload && systemctl --user enable --now ${SERVICE_UNIT}\` in your desktop session.`;
  }
  // XDG_DATA_HOME set in a shell's rc file but not in the session: the manager would never see the unit ("not found").
  const seen = unitDir && managerUnitDir(environment);
  if (seen && unitDir && resolve(seen) !== resolve(unitDir)) {
    throw new Error(
      `systemd's user manager reads units from ${seen}, not ${unitDir} where the unit was written (XDG_DATA_HOME or HOME here is not your session's); run install again with your session's value, or start the daemon with \`${BINARY_NAME} serve\``,
    );
  }
  // false: systemctl refused a masked unit. The user turned the daemon off that way (README), which install respects.
  const step = async (args: string[]): Promise<boolean> => {
    const r = await run(args);
    if (r.code === 0) return true;
    if (/\bmasked\b/.test(r.stderr)) return false;
    // systemd only says "the control process exited with error code": the daemon's own sentence (a port in use by
    // `npm start`, a config error with its line) is in the journal.
    const first = r.stderr.trim().split("\n")[0] || `exit code ${r.code}`;
    const why = /start$/.test(args[0]!) ? `${first.replace(/\.$/, "")}; the daemon says why in \`journalctl --user -u ${SERVICE_UNIT} -e\`` : first;
    throw new Error(`systemctl --user ${args.join(" ")} failed: ${why}`);
  };
  await step(["daemon-reload"]);
  if (enable) {
    // restart also starts a stopped unit; a plain start would keep running an outdated binary.
    if ((await step(["enable", SERVICE_UNIT])) && (await step([changed ? "restart" : "start", SERVICE_UNIT])))
      return `systemd: ${SERVICE_UNIT} enabled and ${changed ? "(re)started" : "running"}; check it with \`systemctl --user status ${SERVICE_UNIT}\`.`;
  } else if (!changed || (await step(["try-restart", SERVICE_UNIT]))) {
    return `systemd: units installed, not enabled (--no-enable); start with \`systemctl --user enable --now ${SERVICE_UNIT}\`.`;
  }
  return `systemd: ${SERVICE_UNIT} is masked, so it was not enabled or started; \`systemctl --user unmask ${SERVICE_UNIT}\` turns it back on.`;
}

export interface UninstallReport {
  removed: string[];
  /** Files changed since install wrote them: left in place. */
  kept: string[];
  systemd: string;
  nothing: boolean;
}

export async function uninstall(opts: { run: Runner; paths?: InstallPaths }): Promise<UninstallReport> {
  const paths = opts.paths ?? xdgInstallPaths();
  const m = readManifest(paths.manifest);
  if (!m) return { removed: [], kept: [], systemd: "", nothing: true };
  const unavailable = await userManagerUnavailable(opts.run);
  let systemd: string;
  if (unavailable) systemd = `systemd: skipped, ${unavailable}.`;
  else {
    // Best effort: a unit that was never enabled or is already stopped is not an error here.
    const r = await opts.run(["disable", "--now", ...m.units]);
    // A masked unit (the user's "off") is one `disable` ignores ("Unit X is masked, ignoring."): said as it is, not as
    // stopped and disabled; its file and enablement links go below, and the mask (the user's own link) stays.
    const masked = m.units.filter((u) => r.stderr.includes(`${u} is masked`));
    const plain = m.units.filter((u) => !masked.includes(u));
    systemd = [
      plain.length ? `systemd: ${plain.join(", ")} stopped and disabled.` : "",
      masked.length ? `systemd: ${masked.join(", ")} ${masked.length > 1 ? "are" : "is"} masked, so it was left off as it was; its unit file and enablement links were removed, the mask stays (\`systemctl --user unmask ${masked.join(" ")}\` clears it).` : "",
    ].filter(Boolean).join("\n");
  }
  const removed: string[] = [];
  const kept: string[] = [];
  for (const f of m.files) {
    if (!existsSync(f)) continue;
    if (!asInstalled(f, m)) {
      kept.push(f);
      continue;
    }
    // A masked unit's enablement links survive `disable` ("is masked, ignoring"): they would point at nothing.
    if (f.endsWith(".service")) relinkEnablement(configUnitDir(paths), f, null);
    rmSync(f, { force: true });
    removed.push(f);
  }
  rmSync(paths.manifest, { force: true });
  // Deepest first; a directory that holds anything else (the user's config, other apps' icons) stays.
  for (const d of [...m.dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(d);
    } catch {}
  }
  if (!unavailable) await opts.run(["daemon-reload"]);
  return { removed, kept, systemd, nothing: false };
}

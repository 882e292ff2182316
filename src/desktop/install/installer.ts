// Installs the plain binary for one user under the XDG directories, with a manifest so uninstall removes exactly that.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { atomicWrite } from "../../config/atomic-write.ts";
import { configHome, dataHome } from "../../config/paths.ts";
import { assets, checkPlainPath, RETIRED_UNITS, SERVICE_UNIT, type Asset, type AssetKind } from "./assets.ts";
import { userManagerUnavailable, type Runner } from "./systemctl.ts";

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
  const home = process.env.HOME || homedir();
  return {
    binDir: join(home, ".local", "bin"),
    userUnitDir: join(configHome(), "systemd", "user"),
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
  const report: InstallReport = { binary: join(paths.binDir, BINARY_NAME), written: [], unchanged: [], removed: [], systemd: "" };
  const files: string[] = [];
  checkPlainPath(report.binary);

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
    const dest = join(paths[key], a.name);
    files.push(dest);
    if (sameContent(dest, a.content)) {
      report.unchanged.push(dest);
      continue;
    }
    mkdirTracked(dirname(dest), created);
    atomicWrite(dest, a.content, 0o644);
    report.written.push(dest);
  }

  // Units an earlier install enabled that this version retired (the tray's own unit: the daemon shows the tray now):
  // stopped and disabled while their files still exist (best effort), so an upgrade leaves one process, not two.
  const retired = (prev?.units ?? []).filter((u) => RETIRED_UNITS.includes(u));
  let retiredNote = "";
  if (retired.length && !(await userManagerUnavailable(opts.run))) {
    const r = await opts.run(["disable", "--now", ...retired]);
    if (r.code === 0) retiredNote = `systemd: retired ${retired.join(", ")} (the daemon shows the tray icon itself now).\n`;
  }

  // Files an earlier install wrote that this version no longer ships.
  for (const f of prev?.files ?? []) {
    if (files.includes(f)) continue;
    rmSync(f, { force: true });
    report.removed.push(f);
  }

  mkdirTracked(dirname(paths.manifest), created);
  const manifest: Manifest = {
    format: 1,
    installedAt: new Date().toISOString(),
    binary: report.binary,
    files,
    dirs: [...created].sort(),
    units: [SERVICE_UNIT],
  };
  atomicWrite(paths.manifest, JSON.stringify(manifest, null, 2) + "\n", 0o644);

  const serviceChanged = report.written.some((f) => f === report.binary || f.endsWith(`/${SERVICE_UNIT}`));
  report.systemd = retiredNote + (await enableService(opts.run, opts.enable, serviceChanged));
  out(report.systemd);
  return report;
}

/** daemon-reload, then enable and (re)start the user service; the one-line outcome, or why systemd was skipped. */
export async function enableService(run: Runner, enable: boolean, changed: boolean): Promise<string> {
  const unavailable = await userManagerUnavailable(run);
  if (unavailable) {
    return `systemd: skipped, ${unavailable}. Start the daemon yourself with \`${BINARY_NAME} serve\`, or run \`systemctl --user daemon-reload && systemctl --user enable --now ${SERVICE_UNIT}\` in your desktop session.`;
  }
  const step = async (args: string[]) => {
    const r = await run(args);
    if (r.code !== 0) throw new Error(`systemctl --user ${args.join(" ")} failed: ${r.stderr.trim().split("\n")[0] || `exit code ${r.code}`}`);
  };
  await step(["daemon-reload"]);
  if (enable) {
    await step(["enable", SERVICE_UNIT]);
    // restart also starts a stopped unit; a plain start would keep running an outdated binary.
    await step([changed ? "restart" : "start", SERVICE_UNIT]);
    return `systemd: ${SERVICE_UNIT} enabled and ${changed ? "(re)started" : "running"}; check it with \`systemctl --user status ${SERVICE_UNIT}\`.`;
  }
  if (changed) await step(["try-restart", SERVICE_UNIT]);
  return `systemd: units installed, not enabled (--no-enable); start with \`systemctl --user enable --now ${SERVICE_UNIT}\`.`;
}

export interface UninstallReport {
  removed: string[];
  systemd: string;
  nothing: boolean;
}

export async function uninstall(opts: { run: Runner; paths?: InstallPaths }): Promise<UninstallReport> {
  const paths = opts.paths ?? xdgInstallPaths();
  const m = readManifest(paths.manifest);
  if (!m) return { removed: [], systemd: "", nothing: true };
  const unavailable = await userManagerUnavailable(opts.run);
  let systemd: string;
  if (unavailable) systemd = `systemd: skipped, ${unavailable}.`;
  else {
    // Best effort: a unit that was never enabled or is already stopped is not an error here.
    await opts.run(["disable", "--now", ...m.units]);
    systemd = `systemd: ${m.units.join(", ")} stopped and disabled.`;
  }
  const removed: string[] = [];
  for (const f of m.files) {
    if (!existsSync(f)) continue;
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
  return { removed, systemd, nothing: false };
}

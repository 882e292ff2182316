// Asks the systemd user manager about the daemon's unit (installed, enabled, active) and starts it; used by the tray and doctor.
import { readFileSync } from "node:fs";
export const UNIT = "cloudtolocalllm-tunnel.service";
/**
 * The autostart entry starts the daemon when systemd does not (the file keeps the name it had when it started the tray
 * process, so a user's override that hides it still applies after an upgrade).
 */
export const AUTOSTART_ENTRY = "cloudtolocalllm-tunnel-tray.desktop";

/**
 * The autostart entry a desktop login runs, as the XDG autostart spec finds it (the config home's over
 * $XDG_CONFIG_DIRS'), or null: none, or one the user turned off (Hidden, or GNOME's "don't start").
 */
export function autostartEntryInUse(env: NodeJS.ProcessEnv = process.env): string | null {
  const home = env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : `${env.HOME ?? ""}/.config`;
  const dirs = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(":").filter((d) => d.startsWith("/"));
  for (const dir of [home, ...dirs]) {
    const file = `${dir.replace(/\/+$/, "")}/autostart/${AUTOSTART_ENTRY}`;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    return /^(Hidden=true|X-GNOME-Autostart-enabled=false)$/m.test(text) ? null : file;
  }
  return null;
}

export interface UnitState {
  /** systemctl --user works (a user manager is running). */
  available: boolean;
  installed: boolean;
  /** `systemctl --user mask`: the user turned the daemon off for good (the autostart entry respects it too). */
  masked?: boolean;
  enabled: boolean;
  active: boolean;
  /** ActiveState=failed: how it ended (systemd's Result=, e.g. exit-code, start-limit-hit, watchdog) and its exit status. */
  failed?: { result: string; status: number };
  detail: string;
}

function systemctl(args: string[], timeoutMs = 5000): { ok: boolean; out: string; err: string } {
  try {
    const r = Bun.spawnSync(["systemctl", "--user", ...args], { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
    return { ok: r.exitCode === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

export function unitState(unit = UNIT): UnitState {
  const r = systemctl(["show", unit, "--property=LoadState,UnitFileState,ActiveState,Result,ExecMainStatus"]);
  if (!r.ok) return { available: false, installed: false, enabled: false, active: false, detail: r.err || "systemctl --user failed" };
  const props = Object.fromEntries(r.out.split("\n").map((l) => l.split("=", 2) as [string, string]));
  const installed = props.LoadState === "loaded";
  return {
    available: true,
    installed,
    masked: props.LoadState === "masked",
    enabled: props.UnitFileState === "enabled" || props.UnitFileState === "enabled-runtime",
    active: props.ActiveState === "active" || props.ActiveState === "activating",
    ...(props.ActiveState === "failed" ? { failed: { result: props.Result ?? "", status: Number(props.ExecMainStatus) || 0 } } : {}),
    detail: `load=${props.LoadState} file=${props.UnitFileState} active=${props.ActiveState}`,
  };
}

export function startUnit(unit = UNIT): { ok: boolean; error: string } {
  const r = systemctl(["start", unit], 30_000);
  return { ok: r.ok, error: r.err };
}

// Runs `systemctl --user` for install/uninstall; injectable so tests can check the calls without a user manager.
import { runtimeDirHint } from "../runtime-dir-hint.ts";
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}
export type Runner = (args: string[]) => Promise<RunResult>;

export const systemctlRunner: Runner = async (args) => {
  try {
    const p = Bun.spawn(["systemctl", "--user", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  } catch (e) {
    // ENOENT: no systemctl at all.
    return { code: 127, stdout: "", stderr: (e as Error).message };
  }
};

/** The user manager's environment (`show-environment`), or the reason it cannot be used, in one line. */
export async function userManager(run: Runner): Promise<{ unavailable: string | null; environment: string }> {
  const r = await run(["show-environment"]);
  if (r.code === 0) return { unavailable: null, environment: r.stdout };
  if (r.code === 127) return { unavailable: "systemctl is not installed", environment: "" };
  const first = r.stderr.trim().split("\n")[0];
  const hint = runtimeDirHint();
  return { unavailable: `no systemd user manager is reachable${first ? ` (${first})` : ""}${hint ? `; ${hint}` : ""}`, environment: "" };
}

/** null when a systemd user manager answers; otherwise the reason it cannot be used, in one line. */
export async function userManagerUnavailable(run: Runner): Promise<string | null> {
  return (await userManager(run)).unavailable;
}

/** Where the manager reads the units installed in a home: $XDG_DATA_HOME/systemd/user in its environment (a relative value is ignored, as the XDG spec says); null when its environment does not say. */
export function managerUnitDir(environment: string): string | null {
  const env = Object.fromEntries(environment.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  const data = env.XDG_DATA_HOME?.startsWith("/") ? env.XDG_DATA_HOME : env.HOME?.startsWith("/") ? `${env.HOME}/.local/share` : null;
  return data && `${data.replace(/\/+$/, "")}/systemd/user`;
}

// Runs `systemctl --user` for install/uninstall; injectable so tests can check the calls without a user manager.
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

/** null when a systemd user manager answers; otherwise the reason it cannot be used, in one line. */
export async function userManagerUnavailable(run: Runner): Promise<string | null> {
  const r = await run(["show-environment"]);
  if (r.code === 0) return null;
  if (r.code === 127) return "systemctl is not installed";
  const first = r.stderr.trim().split("\n")[0];
  return `no systemd user manager is reachable${first ? ` (${first})` : ""}`;
}

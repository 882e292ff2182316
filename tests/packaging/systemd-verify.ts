// Runs `systemd-analyze verify` on one unit file the way the packaging tests need it (no man pages, no generators).
export function verifyUnit(file: string, user: boolean, runtimeDir: string): { code: number; output: string } {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", XDG_RUNTIME_DIR: runtimeDir, SYSTEMD_LOG_COLOR: "0", LANG: "C" };
  const args = ["systemd-analyze", ...(user ? ["--user"] : []), "--man=no", "--generators=no", "verify", file];
  const r = Bun.spawnSync(args, { env, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, output: (r.stdout.toString() + r.stderr.toString()).trim() };
}

// Runs a daemon inside a private network namespace (`unshare -rn`), so a test can use the DEFAULT ports (8765, 11435) without touching the host's.
import { join } from "node:path";
import type { Need } from "./requires.ts";

export const NETNS_DRIVER = join(import.meta.dir, "netns-driver.ts");

/** Whether this machine lets an unprivileged test make a network namespace with a working loopback. */
export const netnsAvailable: boolean = (() => {
  try {
    return Bun.spawnSync(["unshare", "-rn", "sh", "-c", "ip link set lo up"], { stdout: "ignore", stderr: "ignore" }).success;
  } catch {
    return false;
  }
})();

/** What a netns test needs, for requireTools: the tools, then a kernel that lets an unprivileged user make the namespace. */
export const NETNS_NEEDS: Need[] = [
  "unshare",
  "ip",
  {
    name: "unprivileged user namespaces (unshare -rn)",
    available: () => netnsAvailable,
    fix: "allow them: sysctl -w kernel.unprivileged_userns_clone=1, and on Ubuntu 23.10+ kernel.apparmor_restrict_unprivileged_userns=0",
  },
];

export interface NetnsRun {
  /** Status and body of GET /healthz on the API's logged URL, or null when it never listened. */
  health: { status: number; body: string } | null;
  /** Exit code after SIGTERM, and how long the exit took. */
  exitCode: number | null;
  stopMs: number;
  stderr: string;
}

/** Starts `cmd` in a fresh network namespace (loopback up) with `env`, waits for the API, GETs /healthz, sends SIGTERM. */
export async function runInNetns(cmd: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<NetnsRun> {
  const proc = Bun.spawn(["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, NETNS_DRIVER, String(timeoutMs), ...cmd], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  try {
    return JSON.parse(out) as NetnsRun;
  } catch {
    throw new Error(`netns driver failed (exit ${proc.exitCode}):\n${out}\n${err}`);
  }
}

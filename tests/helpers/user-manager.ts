// A systemd user manager for tests that need systemd's restart logic: the session's own when there is one, else one
// started in a private mount namespace (as root: /run/systemd/system must exist there for `systemd --user` to start).
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Need } from "./requires.ts";
import { until } from "./until.ts";

const SYSTEMD = "/usr/lib/systemd/systemd";

function sessionManager(): boolean {
  try {
    return Bun.spawnSync(["systemctl", "--user", "show-environment"], { stdout: "ignore", stderr: "ignore" }).success;
  } catch {
    return false;
  }
}

/** Whether a private user manager can be started here: root (for the mount namespace), unshare and systemd's binary. */
function privateManagerPossible(): boolean {
  return process.getuid?.() === 0 && existsSync(SYSTEMD) && Bun.which("unshare") !== null;
}

export const userManagerKind: "session" | "private" | null = sessionManager() ? "session" : privateManagerPossible() ? "private" : null;

/** For requireTools, after the tools ("systemctl", "systemd-run", and "unshare" for a private manager): a user manager. */
export const USER_MANAGER: Need = {
  name: "a systemd user manager (systemd-run --user)",
  available: () => userManagerKind !== null,
  fix: "run the test in a desktop session with a systemd user manager (systemctl --user works), or as root so it can start one (systemd in the container)",
};

/** A manager of the test's own, with its own HOME: for tests that install, restart or stop units by their real names,
 * which in the session's manager would be the user's own service. */
export const PRIVATE_USER_MANAGER: Need = {
  name: "a private systemd user manager",
  available: () => userManagerKind === "private",
  fix: "run the test as root, so it can start systemd --user in a private mount namespace",
};

export interface UserManager {
  /** XDG_RUNTIME_DIR (and the rest of the environment) that systemctl --user and systemd-run --user need to reach it. */
  env: Record<string, string>;
  systemctl(...args: string[]): { code: number; out: string };
  stop(): Promise<void>;
}

export async function startUserManager(): Promise<UserManager> {
  const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" };
  const call = (env: Record<string, string>) => (...args: string[]) => {
    const r = Bun.spawnSync(["systemctl", "--user", ...args], { env, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode ?? -1, out: (r.stdout.toString() + r.stderr.toString()).trim() };
  };
  if (userManagerKind === "session") {
    const env = { ...base, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "", ...(process.env.DBUS_SESSION_BUS_ADDRESS ? { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS } : {}) };
    return { env, systemctl: call(env), stop: async () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "c2l-usermgr-"));
  const rt = join(dir, "run");
  Bun.spawnSync(["mkdir", "-m", "700", rt]);
  // A home of its own: the manager reads no unit of the machine's user (~/.config/systemd/user).
  const env = { ...base, XDG_RUNTIME_DIR: rt, HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_DATA_HOME: join(dir, "data") };
  const proc = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", `mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && exec ${SYSTEMD} --user`], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const systemctl = call(env);
  await until(() => existsSync(join(rt, "systemd/private")) && systemctl("show-environment").code === 0, 15_000, "the private systemd user manager");
  return {
    env,
    systemctl,
    async stop() {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(10_000).then(() => proc.kill("SIGKILL"))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The [Service] settings of a unit file as `systemd-run -p` arguments (ExecStart= and ExecReload= left to the caller). */
export function serviceProperties(unitFile: string): string[] {
  const text = readFileSync(unitFile, "utf8");
  const service = text.slice(text.indexOf("[Service]") + "[Service]".length, text.indexOf("\n[", text.indexOf("[Service]")));
  return service
    .split("\n")
    .filter((l) => /^[A-Za-z]+=/.test(l) && !/^Exec(Start|Reload)=/.test(l))
    .flatMap((l) => ["-p", l]);
}

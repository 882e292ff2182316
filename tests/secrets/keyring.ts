// Test helper: a private session bus (path address) with a real gnome-keyring-daemon whose login keyring is unlocked.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { until } from "../helpers/until.ts";

export interface Keyring {
  dir: string;
  address: string;
  env: Record<string, string>;
  /** Kills gnome-keyring-daemon and starts a new one on the same bus and keyring files (a crash and re-activation). */
  restartService(): Promise<void>;
  stop(): Promise<void>;
}

/** With `password: null` the daemon starts without --unlock: a Secret Service with no default collection. */
export async function startKeyring(password: string | null = "keyring-test-password"): Promise<Keyring> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-keyring-"));
  const home = join(dir, "home");
  const run = join(dir, "run");
  mkdirSync(home, { recursive: true });
  mkdirSync(run, { recursive: true, mode: 0o700 });
  const address = `unix:path=${join(dir, "bus")}`;
  const procs: Subprocess[] = [];
  // No service activation on this bus: otherwise an early call could auto-start a second, locked gnome-keyring.
  const conf = join(dir, "bus.conf");
  writeFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const bus = Bun.spawn(["dbus-daemon", `--config-file=${conf}`, "--nofork", "--nopidfile"], { stdout: "ignore", stderr: "ignore" });
  procs.push(bus);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_DATA_HOME: join(home, ".local/share"),
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local/state"),
    XDG_RUNTIME_DIR: run,
    DBUS_SESSION_BUS_ADDRESS: address,
  };
  const stop = async () => {
    for (const p of procs.reverse()) {
      p.kill("SIGTERM");
      await p.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const startService = async () => {
    // --unlock reads the password from stdin and creates (or unlocks) the "login" keyring, aliased "default": no prompt.
    const gk = Bun.spawn(["gnome-keyring-daemon", "--foreground", ...(password === null ? [] : ["--unlock"]), "--components=secrets"], {
      env,
      stdin: "pipe",
      stdout: "ignore",
      stderr: "pipe",
    });
    procs.push(gk);
    let gkErr = "";
    void (async () => {
      for await (const c of gk.stderr) gkErr += new TextDecoder().decode(c);
    })();
    if (password !== null) gk.stdin.write(password);
    await gk.stdin.end();
    let last = "";
    await until(async () => {
      const r = Bun.spawn(
        ["gdbus", "call", "--session", "-d", "org.freedesktop.secrets", "-o", "/org/freedesktop/secrets", "-m", "org.freedesktop.Secret.Service.ReadAlias", "default"],
        { env, stdout: "pipe", stderr: "pipe" },
      );
      const [out, err, code] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
      last = out + err + (gk.exitCode !== null ? ` (gnome-keyring-daemon exited ${gk.exitCode}: ${gkErr})` : "");
      return code === 0 && (password === null || out.includes("/collection/"));
    }, 15_000, password === null ? "org.freedesktop.secrets" : "org.freedesktop.secrets with a default collection").catch((e) => {
      throw new Error(`${(e as Error).message}: ${last}`);
    });
    return gk;
  };
  let service: Subprocess;
  const restartService = async () => {
    service.kill("SIGTERM");
    await service.exited;
    procs.splice(procs.indexOf(service), 1);
    service = await startService();
  };
  try {
    await until(() => existsSync(join(dir, "bus")), 10_000, "the private bus socket");
    service = await startService();
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, address, env, restartService, stop };
}

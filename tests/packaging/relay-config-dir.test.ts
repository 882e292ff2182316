// The packaged relay unit's dynamic user can read relay.toml in the ConfigurationDirectory= systemd makes for it (root's).
import { expect } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { ROOT } from "../helpers/other-user.ts";

const unit = readFileSync(join(REPO, "systemd/cloudtolocalllm-relay.service"), "utf8");
const setting = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(unit)?.[1];

// systemd.exec(5): ConfigurationDirectory= is created with ConfigurationDirectoryMode= (default 0755) when missing and,
// unlike the state directory, stays root's: the dynamic user reads it as "others". An existing one keeps its mode, and
// systemd warns at every start when it differs ("already exists but the mode is different").
requireTools(["setpriv", ROOT]).test("the relay's dynamic user reads relay.toml where the unit points, in the directory systemd creates for it, and an admin's `mkdir` matches its mode", () => {
  const dirName = setting("ConfigurationDirectory");
  const mode = parseInt(setting("ConfigurationDirectoryMode") ?? "0755", 8);
  const file = /^ExecStart=\S+ relay --config (\S+)$/m.exec(unit)?.[1];
  expect(file).toBe(`/etc/${dirName}/relay.toml`);

  const root = mkdtempSync(join(tmpdir(), "c2l-relay-etc-"));
  try {
    chmodSync(root, 0o755);
    // As systemd makes it on `systemctl enable --now` before the admin wrote the file: root:root, the unit's mode.
    const dir = join(root, dirName!);
    mkdirSync(dir);
    chmodSync(dir, mode);
    // Then the admin's file, as `sudo tee` writes it (0644, root's).
    writeFileSync(join(dir, "relay.toml"), `listen = "127.0.0.1:8080"\n`, { mode: 0o644 });
    // The dynamic user is neither root nor in root's group; nobody stands in for it.
    const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BUN, join(REPO, "src/main.ts"), "relay", "check", "--config", join(dir, "relay.toml")], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
      cwd: "/",
      stdout: "pipe",
      stderr: "pipe",
    });
    expect({ code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() }).toEqual({ code: 0, out: `${join(dir, "relay.toml")}: ok (0 tunnels)\n` });
    // A directory the admin made first (`sudo mkdir`, umask 022) has the unit's mode: no warning at every start.
    expect(mode.toString(8)).toBe("755");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}, 60_000);

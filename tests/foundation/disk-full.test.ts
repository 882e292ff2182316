// Integration: a real daemon whose config directory is a full filesystem (a tiny tmpfs in a private mount namespace): a config write answers 507 disk_full naming the file, and the file is left as it was.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

/** Whether this machine lets a test mount a tmpfs in its own user and mount namespace (no effect outside it). */
const tmpfsAvailable: boolean = (() => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-tmpfs-probe-"));
  try {
    return Bun.spawnSync(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k probe "$0"', dir], { stdout: "ignore", stderr: "ignore" }).success;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

const TOKEN = "disk-full-test-token-0123456789abcdef";
const CONFIG = `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[secrets]
backend = "file"
[[upstreams]]
name = "local"
url = "http://127.0.0.1:9"
`;

// The config directory becomes a 128 KiB tmpfs holding the seeded files and then filled to the last block.
const WRAPPER = `#!/bin/sh
exec unshare -rm sh -c '
  mount -t tmpfs -o size=128k,mode=0700 c2l-full "$C2L_CONFIG_DIR" || exit 97
  cp -a "$C2L_SEED"/. "$C2L_CONFIG_DIR"/ || exit 98
  dd if=/dev/zero of="$C2L_CONFIG_DIR/.fill" bs=4096 2>/dev/null
  exec "$C2L_BUN" "$C2L_MAIN" "$@"' sh "$@"
`;

let home = "";
let d: DaemonProc | null = null;
beforeAll(async () => {
  if (!tmpfsAvailable) return;
  home = tempHome("c2l-full-");
  const seed = join(home, "seed");
  mkdirSync(seed);
  writeFileSync(join(seed, "tunnel.toml"), CONFIG, { mode: 0o600 });
  writeFileSync(join(seed, "api-token"), TOKEN + "\n", { mode: 0o600 });
  const configDir = join(home, ".config/cloudtolocalllm");
  mkdirSync(configDir, { recursive: true });
  const wrapper = join(home, "serve-on-full-disk.sh");
  writeFileSync(wrapper, WRAPPER);
  chmodSync(wrapper, 0o755);
  d = await startDaemon({
    home,
    binary: wrapper,
    env: { C2L_CONFIG_DIR: configDir, C2L_SEED: seed, C2L_BUN: BUN, C2L_MAIN: join(REPO, "src/main.ts") },
  });
});
afterAll(async () => {
  await d?.stop();
  if (home) removeHome(home);
});

requireTools([
  "unshare",
  "mount",
  { name: "a tmpfs in an unprivileged mount namespace (unshare -rm)", available: () => tmpfsAvailable, fix: "allow unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1" },
]).test("PUT /api/v1/config on a full disk answers 507 disk_full naming the config file; the file and the running config stay", async () => {
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  const auth = { authorization: `Bearer ${TOKEN}` };
  const r = await fetch(`${d!.urls.api}/api/v1/config`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/toml" },
    body: CONFIG + '[logging]\nlevel = "debug"\n# ' + "x".repeat(8192) + "\n",
  });
  expect(r.status).toBe(507);
  const body = (await r.json()) as { error: { code: string; message: string; details: { file: string } } };
  expect(body.error.code).toBe("disk_full");
  expect(body.error.message).toBe(`cannot write ${file}: no space left on the disk (ENOSPC); the file was left as it was, free some space and try again`);
  expect(body.error.details).toEqual({ file });
  // Before: 500 internal, "internal error; the daemon log has the details".
  expect(d!.stderr()).not.toContain("request failed");
  const exported = await fetch(`${d!.urls.api}/api/v1/config/export`, { headers: auth });
  expect(await exported.text()).toBe(CONFIG);
  const running = (await (await fetch(`${d!.urls.api}/api/v1/config`, { headers: auth })).json()) as { config: { logging: { level: string } } };
  expect(running.config.logging.level).toBe("info");
});

// Integration: a real daemon whose config directory is a full filesystem (a tiny tmpfs in a private mount namespace): a config write answers 507 disk_full naming the file, and the file is left as it was.
import { afterAll, beforeAll, expect, setDefaultTimeout } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { fullDisk, mountNamespace, namespaceWrapper } from "../helpers/mount-namespace.ts";
import { requireTools } from "../helpers/requires.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

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

const guarded = requireTools(["unshare", "mount", mountNamespace]);
let home = "";
let d: DaemonProc | null = null;
beforeAll(async () => {
  if (!guarded.ok) return;
  home = tempHome("c2l-full-");
  const seed = join(home, "seed");
  mkdirSync(seed);
  writeFileSync(join(seed, "tunnel.toml"), CONFIG, { mode: 0o600 });
  writeFileSync(join(seed, "api-token"), TOKEN + "\n", { mode: 0o600 });
  const configDir = join(home, ".config/cloudtolocalllm");
  mkdirSync(configDir, { recursive: true });
  // The config directory becomes a 128 KiB tmpfs holding the seeded files and then filled to the last block.
  d = await startDaemon({ home, binary: namespaceWrapper(join(home, "serve-on-full-disk.sh"), fullDisk(configDir, seed)) });
});
afterAll(async () => {
  await d?.stop();
  if (home) removeHome(home);
});

guarded.test("PUT /api/v1/config on a full disk answers 507 disk_full naming the config file; the file and the running config stay", async () => {
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
  // One warn line for the operator, naming the file and the cause (before: none at all).
  expect(d!.stderr().split("\n").filter((l) => / warn api: a file could not be written/.test(l) && l.includes(`cannot write ${file}: no space left on the disk (ENOSPC)`))).toHaveLength(1);
  const exported = await fetch(`${d!.urls.api}/api/v1/config/export`, { headers: auth });
  expect(await exported.text()).toBe(CONFIG);
  const running = (await (await fetch(`${d!.urls.api}/api/v1/config`, { headers: auth })).json()) as { config: { logging: { level: string } } };
  expect(running.config.logging.level).toBe("info");
});

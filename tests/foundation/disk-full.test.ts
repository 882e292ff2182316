// Integration: a real daemon whose config directory is a full filesystem (a tiny tmpfs in a private mount namespace): a config write answers 507 disk_full naming the file, and the file is left as it was.
import { afterAll, beforeAll, expect, setDefaultTimeout } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { fullDisk, mountNamespace, namespaceWrapper } from "../helpers/mount-namespace.ts";
import { requireTools } from "../helpers/requires.ts";
import { createKey } from "../../src/gateway/keys.ts";

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
const NO_LIMITS = { models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null };
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

guarded.test("every writer of a daemon whose config and state directories are full: a clear 507 each, one log line each, the files whole, still serving; the same writes succeed once there is room", async () => {
  const h = tempHome("c2l-full-all-");
  const cfgDir = join(h, ".config/cloudtolocalllm");
  const state = join(h, ".local/state/cloudtolocalllm");
  const seedCfg = join(h, "seed-config");
  const seedState = join(h, "seed-state");
  for (const dir of [cfgDir, state, seedCfg, join(seedState, "backups")]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(seedCfg, "tunnel.toml"), CONFIG, { mode: 0o600 });
  writeFileSync(join(seedCfg, "api-token"), TOKEN + "\n", { mode: 0o600 });
  const keys = JSON.stringify({ version: 1, keys: [createKey("first", NO_LIMITS).record] }, null, 2) + "\n";
  writeFileSync(join(seedState, "keys.json"), keys, { mode: 0o600 });
  const backupId = "20261101T000000000Z";
  writeFileSync(join(seedState, "backups", `${backupId}.toml`), CONFIG + '[logging]\nlevel = "warn"\n', { mode: 0o600 });
  const daemon = await startDaemon({ home: h, binary: namespaceWrapper(join(h, "serve.sh"), `${fullDisk(cfgDir, seedCfg)}\n${fullDisk(state, seedState)}`) });
  const inside = (f: string) => `/proc/${daemon.proc.pid}/root${f}`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const api = (path: string, init: RequestInit = {}) => fetch(`${daemon.urls.api}${path}`, { ...init, headers: { ...auth, "content-type": "application/json", ...init.headers } });
  const writes: [string, () => Promise<Response>][] = [
    ["PUT config", () => api("/api/v1/config", { method: "PUT", headers: { "content-type": "application/toml" }, body: CONFIG + '[logging]\nlevel = "debug"\n# ' + "x".repeat(8192) + "\n" })],
    ["restore a backup", () => api(`/api/v1/config/backups/${backupId}/restore`, { method: "POST" })],
    ["create a key", () => api("/api/v1/keys", { method: "POST", body: JSON.stringify({ name: "second" }) })],
    ["revoke a key", () => api("/api/v1/keys/first", { method: "DELETE" })],
  ];
  try {
    const seen: Record<string, unknown> = {};
    const messages = new Set<string>();
    for (const [what, write] of writes) {
      const r = await write();
      const body = (await r.json()) as { error?: { code: string; message: string } };
      messages.add(body.error?.message ?? "");
      seen[what] = { status: r.status, code: body.error?.code, named: /cannot write \/\S+: no space left on the disk \(ENOSPC\); the file was left as it was/.test(body.error?.message ?? "") };
    }
    const full = { status: 507, code: "disk_full", named: true };
    expect(seen).toEqual(Object.fromEntries(writes.map(([w]) => [w, full])));
    // The files as they were, nothing left behind, and the daemon serving what it had.
    expect(readFileSync(inside(join(cfgDir, "tunnel.toml")), "utf8")).toBe(CONFIG);
    expect(readFileSync(inside(join(state, "keys.json")), "utf8")).toBe(keys);
    for (const dir of [cfgDir, state, join(state, "backups")]) expect(readdirSync(inside(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(((await (await api("/api/v1/keys")).json()) as { name: string }[]).map((k) => k.name)).toEqual(["first"]);
    // One warn line per file and cause (creating and revoking a key both fail on keys.json), none more a while later.
    const lines = () => daemon.count(/a file could not be written/);
    expect(lines()).toBe(messages.size);
    await Bun.sleep(2500);
    expect(lines()).toBe(messages.size);
    // Room again: each write succeeds.
    rmSync(inside(join(cfgDir, ".fill")));
    rmSync(inside(join(state, ".fill")));
    const after: Record<string, number> = {};
    for (const [what, write] of writes) after[what] = (await write()).status;
    expect(after).toEqual({ "PUT config": 200, "restore a backup": 200, "create a key": 201, "revoke a key": 204 });
    expect(readFileSync(inside(join(cfgDir, "tunnel.toml")), "utf8")).toContain('level = "warn"');
  } finally {
    await daemon.stop();
    removeHome(h);
  }
});
